"""Safety: the prompt and upload policy stage that runs before any job is queued (see policy.py)."""

from .policy import (
    DEFAULT_POLICY,
    Decision,
    Policy,
    PolicyError,
    PolicyRefusal,
    check_prompt,
    check_upload,
    compile_policy,
    enforce,
    load_policy,
    normalise,
)

__all__ = ["DEFAULT_POLICY", "Decision", "Policy", "PolicyError", "PolicyRefusal", "check_prompt", "check_upload",
           "compile_policy", "enforce", "load_policy", "normalise"]
