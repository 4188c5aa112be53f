"""Pure IAM logic: documents, normalisation, evaluation, trust analysis, permission profiles.

Nothing here performs I/O beyond reading the data files shipped inside the package.
"""
