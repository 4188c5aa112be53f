"""boto3 glue: sessions per account, reading a role's whole state, applying a plan."""
