"""ts.utils"""
