"""The compiler: graph API (:mod:`.graph`), the passes driven by :func:`.lower.compile_graph`
(:mod:`.legalize`, :mod:`.tiling`, :mod:`.alloc`, :mod:`.layers` with the placement modules
:mod:`.place_mxm`, :mod:`.place_vxm`, :mod:`.place_sxm` on :mod:`.scheduler`'s books, :mod:`.emit`),
row-op recipes (:mod:`.rowops`), models (:mod:`.models`) and the runtime (:mod:`.runtime`)."""
