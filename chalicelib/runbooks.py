"""The generated part of each runbook (`runbooks/<name>.md`): permissions and HIPAA
references come from the code and the policies, so the page cannot drift from them.

    python -m chalicelib.runbooks        # rewrite the generated blocks in place
"""

from __future__ import annotations

from pathlib import Path

from chalicelib.config import default_policy_dir
from chalicelib.hipaa import describe
from chalicelib.policy import load_policies
from remediations import load

START = "<!-- generated: do not edit below; python -m chalicelib.runbooks -->"
END = "<!-- generated: end -->"
DIR = Path(__file__).resolve().parents[1] / "runbooks"


def block(name: str) -> str:
    cls = load()[name]
    policies = [p for p in load_policies(default_policy_dir()) if p.remediation == name]
    controls = sorted({c for p in policies for c in p.hipaa})
    lines = [START, "", "### Permissions (declared by the remediation)", ""]
    lines += [f"- `{a}`" for a in cls.permissions] or ["- none: it makes no AWS call"]
    lines += ["", "### HIPAA Security Rule references (from the shipped policies)", ""]
    lines += [f"- {describe(c)}" for c in controls]
    lines += ["", "### Shipped policies using it", ""]
    for p in policies:
        triggers = "; ".join(
            f"{t.source.value}{f' ({chr(44).join(t.products)})' if t.products else ''}: "
            f"{', '.join(t.kinds)}" for t in p.trigger)
        lines.append(f"- `{p.name}` (mode `{p.mode.value}`): {triggers}")
    return "\n".join([*lines, "", END])


def rendered(name: str) -> str:
    """The runbook's text with its generated block brought up to date."""
    text = (DIR / f"{name}.md").read_text()
    head, sep, rest = text.partition(START)
    if not sep:
        return text.rstrip("\n") + "\n\n" + block(name) + "\n"
    _, _, tail = rest.partition(END)
    return head + block(name) + tail


if __name__ == "__main__":
    for name in sorted(load()):
        path = DIR / f"{name}.md"
        if path.exists():
            path.write_text(rendered(name))
            print(f"updated {path}")
