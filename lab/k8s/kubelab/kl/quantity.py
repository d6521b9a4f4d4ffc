"""Resource quantities ("1Gi", "500M") to bytes."""
import re

_SUFFIX = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
           "Ti": 2**40}


def to_bytes(text):
    m = re.fullmatch(r"\s*([0-9.]+)\s*([kMGT]i?|)\s*", str(text))
    if not m:
        raise ValueError(f"invalid quantity {text!r}")
    return int(float(m.group(1)) * _SUFFIX[m.group(2)])
