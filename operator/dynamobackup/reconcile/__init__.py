"""Pure reconciliation: desired state from the spec, observed state from AWS, and the difference.

`desired` builds what the role must look like, `observed` describes what AWS returned, `compliance`
judges the observed role, `plan` lists the minimal IAM calls that make it right, and `status`
turns the outcome into the resource's status. No I/O happens here.
"""
