"""kopf glue: parse the object, call the aws layer, patch the status, post Events. Nothing else."""
