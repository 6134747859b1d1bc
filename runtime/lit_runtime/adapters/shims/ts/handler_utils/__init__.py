"""ts.handler_utils"""
