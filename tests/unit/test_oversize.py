"""A request over Lambda's 6 MB, cut off by the emulator, is answered as Lambda answers it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


def test_a_request_the_emulator_cut_off_at_6_mb_is_named_as_lambda_names_it() -> None:
    from awslambdaric.lambda_runtime_exception import FaultException
    from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller
    from lit_runtime import oversize

    oversize.refuse_oversized()
    oversize.refuse_oversized()  # twice: wrapped once
    marshaller = LambdaMarshaller()
    assert marshaller.unmarshal_request('{"a": 1}') == {"a": 1}
    cut = '{"image": "' + "A" * (oversize.MAX_PAYLOAD - 11)
    with pytest.raises(FaultException) as err:
        marshaller.unmarshal_request(cut)
    assert err.value.exception_type == "RequestEntityTooLargeException" and "6291456 bytes" in err.value.msg
    with pytest.raises(FaultException) as err:
        marshaller.unmarshal_request('{"short": ')
    assert err.value.exception_type == "Runtime.UnmarshalError"
