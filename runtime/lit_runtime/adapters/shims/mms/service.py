"""mms.service: PredictionException, which a handler raises to answer with its own status."""


class PredictionException(Exception):
    def __init__(self, message: str, error_code: int = 500) -> None:
        self.message = message
        self.error_code = error_code
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} : {self.error_code}"
