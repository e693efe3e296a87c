"""HIPAA Security Rule references that policies may cite (45 CFR Part 164, Subpart C).

The ids are the regulation's own paragraph numbers; the names are its headings. Policies are
checked against this table at load time so a typo cannot reach an auditor's report.
"""

from __future__ import annotations

CONTROLS: dict[str, str] = {
    "164.308(a)(1)(ii)(A)": "Risk analysis",
    "164.308(a)(1)(ii)(B)": "Risk management",
    "164.308(a)(1)(ii)(D)": "Information system activity review",
    "164.308(a)(3)": "Workforce security",
    "164.308(a)(3)(ii)(A)": "Authorization and/or supervision",
    "164.308(a)(4)": "Information access management",
    "164.308(a)(4)(ii)(B)": "Access authorization",
    "164.308(a)(4)(ii)(C)": "Access establishment and modification",
    "164.308(a)(5)(ii)(C)": "Log-in monitoring",
    "164.308(a)(5)(ii)(D)": "Password management",
    "164.308(a)(6)(i)": "Security incident procedures",
    "164.308(a)(6)(ii)": "Response and reporting",
    "164.308(a)(7)(ii)(A)": "Data backup plan",
    "164.312(a)(1)": "Access control",
    "164.312(a)(2)(iv)": "Encryption and decryption",
    "164.312(b)": "Audit controls",
    "164.312(c)(1)": "Integrity",
    "164.312(d)": "Person or entity authentication",
    "164.312(e)(1)": "Transmission security",
    "164.312(e)(2)(ii)": "Encryption (transmission)",
}


def describe(control: str) -> str:
    """`164.312(b) Audit controls`, or the bare id if unknown."""
    name = CONTROLS.get(control)
    return f"{control} {name}" if name else control
