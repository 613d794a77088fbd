# An int8 linear layer with ReLU, hand-scheduled for the chip:
#
#     y[m] = min(max(((x[m] @ W + b) * M + RND) >> S, 0), 127)      (int32 arithmetic, y int8)
#
# x: ROWS int8 vectors of LANES; W: LANES x LANES int8; b: LANES int32.
# Requantize: multiply by M, add RND = 2**(S-1), arithmetic shift right by S,
# which rounds half up; then ReLU and saturation to int8 (max 0, min 127).
#
# SRAM:  W row k   mem{k % 2}[64 + k // 2]  x rows  mem1[0 .. ROWS-1]
#        b plane j mem{j}[32]  (j = 0..3, little-endian bytes of the int32 bias)
#        y rows    mem4[16 .. 16+ROWS-1]
# Needs at least 5 MEM slices, 4 of them west of the VXM, and 2 weight rows per LW
# (mxm_load_rows = 2): the `small` preset. W loads two rows a cycle, one from each of
# mem0 and mem1, so the tile takes LANES / 2 LWs.
#
# Timing rule: a value a unit issues in cycle t (unit latency LAT) is read by a
# unit `hops` slice positions downstream that issues in cycle t + LAT + 1 + hops.

.set ROWS = 4
.set M    = 3
.set S    = 10
.set RND  = 512                                     # 2**(S-1)

.set T_LW   = MEM_LAT + 1 + (P_mem1 - P_mxm0)       # W rows flow west into plane 0
.set T_W0   = P_mem1 - P_mem0                       # mem0 is nearer: it reads later
.set T_IW   = T_LW + LANES // 2                     # install after the last rows
.set T_ABC  = T_IW + 1                              # activations right after
.set T_X    = T_ABC - (MEM_LAT + 1 + (P_mem1 - P_mxm0))
.set T_VOP1 = T_ABC + MXM_LAT + 1 + (P_vxm - P_mxm0)   # int32 results flow east into the VXM
.set T_VOP2 = T_VOP1 + VXM_LAT + 1                  # reads VOP1's output where it was written
.set T_Y    = T_VOP2 + VXM_LAT + 1 + (P_mem4 - P_vxm)
.set T_B0   = T_VOP1 - (MEM_LAT + 1 + (P_vxm - P_mem0))  # bias planes meet the results
.set T_B1   = T_VOP1 - (MEM_LAT + 1 + (P_vxm - P_mem1))
.set T_B2   = T_VOP1 - (MEM_LAT + 1 + (P_vxm - P_mem2))
.set T_B3   = T_VOP1 - (MEM_LAT + 1 + (P_vxm - P_mem3))

.queue mem0
    NOP T_W0
    READ 64, w0                     # W rows 0, 2, 4, ... onto w0, one per cycle
    REPEAT LANES // 2 - 1, 1
    NOP T_B0 - (T_W0 + LANES // 2)
    READ 32, e4                     # bias byte plane 0, once per row
    REPEAT ROWS - 1, 0
    END

.queue mem1
    READ 64, w1                     # W rows 1, 3, 5, ... onto w1
    REPEAT LANES // 2 - 1, 1
    NOP T_X - LANES // 2
    READ 0, w2                      # x rows
    REPEAT ROWS - 1, 1
    NOP T_B1 - (T_X + ROWS)
    READ 32, e5
    REPEAT ROWS - 1, 0
    END

.queue mem2
    NOP T_B2
    READ 32, e6
    REPEAT ROWS - 1, 0
    END

.queue mem3
    NOP T_B3
    READ 32, e7
    REPEAT ROWS - 1, 0
    END

.queue mxw0
    NOP T_LW
    LW 0, w0, 0, 2                  # weight rows k, k+1 (w0, w1) -> shadow rows k, k+1
    REPEAT LANES // 2 - 1, 2
    IW
    END

.queue mxm0
    NOP T_ABC
    ABC 0, w2, e0, 0                # x[m] @ W -> accumulator row m -> e0..e3 (int32)
    REPEAT ROWS - 1, 1
    END

.queue vxm
    .vxmslot 0, int32, add b, mul M, add RND, sar S
    .vxmslot 1, int32, max 0, min 127
    NOP T_VOP1 - 2 * VXM_WORDS
    VOP 0, 4, e0, e4, e8            # (acc + b) * M + RND >> S
    REPEAT ROWS - 1, 0
    NOP T_VOP2 - (T_VOP1 + ROWS)
    VOP 1, 4, e8, e8, e12           # ReLU, saturate; byte plane 0 is the int8 result
    REPEAT ROWS - 1, 0
    END

.queue mew4
    NOP T_Y
    WRITE 16, e12
    REPEAT ROWS - 1, 1
    END
