"""Second factors (issue 10 §1, §4): TOTP, recovery codes, and when a sign-in needs one."""
