"""Keys of the simulator build cache: what a design is, before and after conversion.

Two keys, both hex digests:

* :func:`design_fingerprint` (:mod:`openlpu.fingerprint`) names a component
  *before* Amaranth converts it; equal fingerprints give equal Verilog, so
  the conversion can be skipped. A component without one is always converted.
* :func:`build_digest` names a simulator build *after* conversion: the
  Verilog text, the simulator and its build options. Every test of the same
  design shares one build, whatever its ``key``.

A design that provides ``to_verilog(name)`` (a hand-written Verilog wrapper
around converted components, see :mod:`openlpu.verif.mxm_harness`) supplies
its own ``design_fingerprint()`` and its text is used instead of Amaranth's.
"""

import hashlib

from openlpu.fingerprint import design_fingerprint, source_digest

__all__ = ["design_fingerprint", "build_digest", "source_digest", "verilog_text"]


def verilog_text(component, name, progress=None):
    """The Verilog of ``component`` as module ``name`` (Amaranth's, or the design's own);
    ``progress`` as for :func:`openlpu.rtl.hier.convert`."""
    own = getattr(component, "to_verilog", None)
    if own is not None:
        return own(name)
    from openlpu.rtl.hier import convert
    return convert(component, name, progress)


def build_digest(verilog, sim, options):
    """Key of a simulator build: the Verilog text, the simulator and its options (strings)."""
    h = hashlib.sha256()
    for part in (sim, *options, verilog):
        h.update(part.encode() + b"\0")
    return h.hexdigest()
