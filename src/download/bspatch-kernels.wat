;; The hot loops of applying a bsdiff patch (./bsdiff-apply.ts) and of bsdiff-x86's reference
;; prediction (./x86-refs.ts, ./x86-scan.ts), as WebAssembly. A patch is applied once per
;; release, so these loops always ran cold in JavaScript: interpreted, then compiled while they
;; ran (two thirds of an apply's CPU time on a 2 MB program). WebAssembly is compiled before it
;; runs.
;;
;; Assembled by scripts/build-wasm.ts into ./bspatch-kernels.wasm.ts (a test checks the two
;; agree). Everything here trusts its caller for addresses (the TypeScript side lays memory out
;; and checks every size read from a patch); what it reads from the patch itself (control
;; triples, field values) it checks, and reports a bad triple as a negative result.
;;
;; Memory: bytes [0, 65536) hold the scan's opcode-pair table (x86-scan.ts writes it); the rest is
;; laid out by wasm-kernels.ts. Offsets into files are i32 (files here are under 2 GiB),
;; addresses of ELF segments i64.
(module
  (memory (export "memory") 2)

  ;; --- the predictor's state, set by x86-refs.ts before `apply`, `target` or `carry` ---
  ;; the base file, its rel32 fields (offsets u32, immediate bytes after each u8) and their count
  (global $base (export "base") (mut i32) (i32.const 0))
  (global $fAt (export "fAt") (mut i32) (i32.const 0))
  (global $fTail (export "fTail") (mut i32) (i32.const 0))
  (global $fCount (export "fCount") (mut i32) (i32.const 0))
  ;; segment tables (see $segmap): base offset -> address, address -> base offset, new offset ->
  ;; address for fields ($newV) and for their targets ($newVt: the same table, its own last hit:
  ;; fields are in code, targets in code or data)
  (global $oldV (export "oldV") (mut i32) (i32.const 0))
  (global $oldO (export "oldO") (mut i32) (i32.const 0))
  (global $newV (export "newV") (mut i32) (i32.const 0))
  (global $newVt (export "newVt") (mut i32) (i32.const 0))
  ;; corrections: old targets ascending (i32) and where each goes (i32)
  (global $fixFrom (export "fixFrom") (mut i32) (i32.const 0))
  (global $fixTo (export "fixTo") (mut i32) (i32.const 0))
  (global $nFix (export "nFix") (mut i32) (i32.const 0))
  ;; copy ranges by old start ascending: old start, new start, length (u32 each)
  (global $cpO (export "cpO") (mut i32) (i32.const 0))
  (global $cpN (export "cpN") (mut i32) (i32.const 0))
  (global $cpX (export "cpX") (mut i32) (i32.const 0))
  (global $nCp (export "nCp") (mut i32) (i32.const 0))
  ;; bucket indexes (see `index`) of fixFrom and cpO, and the base's length they cover
  (global $fixFirst (export "fixFirst") (mut i32) (i32.const 0))
  (global $cpFirst (export "cpFirst") (mut i32) (i32.const 0))
  (global $baseLen (export "baseLen") (mut i32) (i32.const 0))
  ;; 1 when no two segments of a table overlap (x86-refs.ts checks): see $predictRange
  (global $segDisjoint (export "segDisjoint") (mut i32) (i32.const 0))

  ;; the scan's output while it runs
  (global $sBase (mut i32) (i32.const 0))
  (global $sAt (mut i32) (i32.const 0))
  (global $sTail (mut i32) (i32.const 0))
  (global $sN (mut i32) (i32.const 0))
  ;; where the scan goes on after a piece (an offset in the file)
  (global $scanNext (export "scanNext") (mut i32) (i32.const 0))

  ;; ---------------------------------------------------------------------------------------
  ;; The scan: every rel32 field in [base + start, base + end), as x86-scan.ts documents. The
  ;; table at address 0, indexed by a byte and the one after it, says what they may start. A
  ;; vector pass finds the bytes worth looking up (E8, E9, 0F, or a byte followed by a ModRM that
  ;; names [rip + disp32]: one in about fifteen) and the table decides, in the same order and with
  ;; the same skips as a byte-by-byte walk, so the fields found are the same.
  ;; Only positions below $limit start a field (fields may run to $end, the segment's end), so a
  ;; segment is scanned in pieces: the caller goes on from `scanNext`, where a walk over the whole
  ;; segment would be then. (A kernel called once runs as the baseline compiler made it to its
  ;; end; called piece by piece, it runs optimized once V8 has compiled it in the background.)
  ;; Returns the new count; fields are appended at at[n], tail[n].
  (func (export "scan") (param $b i32) (param $start i32) (param $limit i32) (param $end i32) (param $at i32)
    (param $tail i32) (param $n i32) (result i32)
    (local $i i32) (local $e i32) (local $lim i32) (local $next i32) (local $m i32) (local $p i32)
    (local $k i32) (local $fo i32) (local $ft i32) (local $fl i32)
    (local $v v128) (local $w v128)
    (global.set $sBase (local.get $b))
    (global.set $sAt (local.get $at))
    (global.set $sTail (local.get $tail))
    (local.set $i (i32.add (local.get $b) (local.get $start)))
    (local.set $e (i32.add (local.get $b) (local.get $end)))
    (local.set $lim (i32.add (local.get $b) (local.get $limit)))
    (local.set $next (local.get $i))
    ;; Whole chunks of 16 candidates below $lim, each with at least six bytes of the segment after it.
    (block $chunksDone
      (loop $chunk
        (br_if $chunksDone
          (i32.or
            (i32.gt_u (i32.add (local.get $i) (i32.const 22)) (local.get $e))
            (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $lim))))
        (local.set $v (v128.load (local.get $i)))
        (local.set $w (v128.load offset=1 (local.get $i)))
        (local.set $m
          (i8x16.bitmask
            (v128.or
              (v128.or
                (i8x16.eq (local.get $v) (v128.const i8x16 0xe8 0xe8 0xe8 0xe8 0xe8 0xe8 0xe8 0xe8 0xe8 0xe8 0xe8 0xe8 0xe8 0xe8 0xe8 0xe8))
                (i8x16.eq (local.get $v) (v128.const i8x16 0xe9 0xe9 0xe9 0xe9 0xe9 0xe9 0xe9 0xe9 0xe9 0xe9 0xe9 0xe9 0xe9 0xe9 0xe9 0xe9)))
              (v128.or
                (i8x16.eq (local.get $v) (v128.const i8x16 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f 0x0f))
                (i8x16.eq
                  (v128.and (local.get $w) (v128.const i8x16 0xc7 0xc7 0xc7 0xc7 0xc7 0xc7 0xc7 0xc7 0xc7 0xc7 0xc7 0xc7 0xc7 0xc7 0xc7 0xc7))
                  (v128.const i8x16 0x05 0x05 0x05 0x05 0x05 0x05 0x05 0x05 0x05 0x05 0x05 0x05 0x05 0x05 0x05 0x05))))))
        (block $bitsDone
          (loop $bit
            (br_if $bitsDone (i32.eqz (local.get $m)))
            (local.set $p (i32.add (local.get $i) (i32.ctz (local.get $m))))
            (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
            ;; $step, inline (a call per candidate cost most in the baseline code a piece starts in)
            (if (i32.ge_u (local.get $p) (local.get $next))
              (then
                (local.set $k (i32.load8_u (i32.load16_u (local.get $p))))
                (local.set $next (i32.add (local.get $p) (i32.const 1)))
                (block $stepped
                  (br_if $stepped (i32.eqz (local.get $k)))
                  ;; the field's offset from $p, its bytes of immediate, and the instruction's length
                  (if (i32.le_u (local.get $k) (i32.const 2))
                    (then
                      (local.set $fo (local.get $k))
                      (local.set $ft (i32.const 0))
                      (local.set $fl (i32.add (local.get $k) (i32.const 4))))
                    (else
                      (if (i32.eq (local.get $k) (i32.const 3))
                        (then
                          (br_if $stepped
                            (i32.or
                              (i32.gt_u (i32.add (local.get $p) (i32.const 7)) (local.get $e))
                              (i32.ne (i32.and (i32.load8_u offset=2 (local.get $p)) (i32.const 0xc7)) (i32.const 5))))
                          (local.set $fo (i32.const 3))
                          (local.set $ft (i32.const 0))
                          (local.set $fl (i32.const 7)))
                        (else
                          (local.set $ft (i32.sub (local.get $k) (i32.const 8)))
                          (br_if $stepped
                            (i32.gt_u (i32.add (i32.add (local.get $p) (i32.const 6)) (local.get $ft)) (local.get $e)))
                          (local.set $fo (i32.const 2))
                          (local.set $fl (i32.add (i32.const 6) (local.get $ft)))))))
                  (i32.store (i32.add (local.get $at) (i32.shl (local.get $n) (i32.const 2)))
                    (i32.sub (i32.add (local.get $p) (local.get $fo)) (local.get $b)))
                  (i32.store8 (i32.add (local.get $tail) (local.get $n)) (local.get $ft))
                  (local.set $n (i32.add (local.get $n) (i32.const 1)))
                  (local.set $next (i32.add (local.get $p) (local.get $fl))))))
            (br $bit)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $chunk)))
    ;; The last bytes below $lim one by one ($step keeps the count in $sN).
    (global.set $sN (local.get $n))
    (if (i32.gt_u (local.get $next) (local.get $i)) (then (local.set $i (local.get $next))))
    (block $tailDone
      (loop $byte
        (br_if $tailDone
          (i32.or
            (i32.gt_u (i32.add (local.get $i) (i32.const 6)) (local.get $e))
            (i32.ge_u (local.get $i) (local.get $lim))))
        (local.set $i (call $step (local.get $i) (local.get $e)))
        (br $byte)))
    (global.set $scanNext (i32.sub (local.get $i) (local.get $b)))
    (global.get $sN))

  ;; One position of the scan: records the field starting there, if any (at[n], tail[n], written
  ;; in place: no call per field), and returns where the scan goes on (past the field, or the next
  ;; byte).
  (func $step (param $p i32) (param $e i32) (result i32)
    (local $k i32) (local $t i32)
    (local.set $k (i32.load8_u (i32.load16_u (local.get $p))))
    (if (i32.eqz (local.get $k)) (then (return (i32.add (local.get $p) (i32.const 1)))))
    ;; call/jmp rel32
    (if (i32.eq (local.get $k) (i32.const 1))
      (then
        (i32.store
          (i32.add (global.get $sAt) (i32.shl (global.get $sN) (i32.const 2)))
          (i32.sub (i32.add (local.get $p) (i32.const 1)) (global.get $sBase)))
        (i32.store8 (i32.add (global.get $sTail) (global.get $sN)) (i32.const 0))
        (global.set $sN (i32.add (global.get $sN) (i32.const 1)))
        (return (i32.add (local.get $p) (i32.const 5)))))
    ;; jcc rel32
    (if (i32.eq (local.get $k) (i32.const 2))
      (then
        (i32.store
          (i32.add (global.get $sAt) (i32.shl (global.get $sN) (i32.const 2)))
          (i32.sub (i32.add (local.get $p) (i32.const 2)) (global.get $sBase)))
        (i32.store8 (i32.add (global.get $sTail) (global.get $sN)) (i32.const 0))
        (global.set $sN (i32.add (global.get $sN) (i32.const 1)))
        (return (i32.add (local.get $p) (i32.const 6)))))
    ;; 0F op ModRM: [rip + disp32] when the ModRM says so
    (if (i32.eq (local.get $k) (i32.const 3))
      (then
        (if (i32.and
              (i32.le_u (i32.add (local.get $p) (i32.const 7)) (local.get $e))
              (i32.eq (i32.and (i32.load8_u offset=2 (local.get $p)) (i32.const 0xc7)) (i32.const 5)))
          (then
            (i32.store
              (i32.add (global.get $sAt) (i32.shl (global.get $sN) (i32.const 2)))
              (i32.sub (i32.add (local.get $p) (i32.const 3)) (global.get $sBase)))
            (i32.store8 (i32.add (global.get $sTail) (global.get $sN)) (i32.const 0))
            (global.set $sN (i32.add (global.get $sN) (i32.const 1)))
            (return (i32.add (local.get $p) (i32.const 7)))))
        (return (i32.add (local.get $p) (i32.const 1)))))
    ;; one-byte op with [rip + disp32] and $t bytes of immediate after it
    (local.set $t (i32.sub (local.get $k) (i32.const 8)))
    (if (i32.le_u (i32.add (i32.add (local.get $p) (i32.const 6)) (local.get $t)) (local.get $e))
      (then
        (i32.store
          (i32.add (global.get $sAt) (i32.shl (global.get $sN) (i32.const 2)))
          (i32.sub (i32.add (local.get $p) (i32.const 2)) (global.get $sBase)))
        (i32.store8 (i32.add (global.get $sTail) (global.get $sN)) (local.get $t))
        (global.set $sN (i32.add (global.get $sN) (i32.const 1)))
        (return (i32.add (i32.add (local.get $p) (i32.const 6)) (local.get $t)))))
    (i32.add (local.get $p) (i32.const 1)))

  ;; ---------------------------------------------------------------------------------------
  ;; Segment tables: i32 count, i32 index of the last hit, then per segment i64 from, i64 to,
  ;; i64 size. $x in [from, from + size) maps to x - from + to; -1 when no segment holds it (every
  ;; answer is an offset or address, never negative). The last hit is tried first: nearly every
  ;; lookup lands in the code segment.
  (func $segmap (param $t i32) (param $x i64) (result i64)
    (local $k i32) (local $n i32) (local $s i32) (local $from i64)
    ;; One function, no calls: it runs four times per predicted field, and the baseline compiler
    ;; that runs a one-off apply does not inline.
    (local.set $n (i32.load (local.get $t)))
    (local.set $k (i32.load offset=4 (local.get $t)))
    (if (i32.lt_u (local.get $k) (local.get $n))
      (then
        (local.set $s (i32.add (local.get $t) (i32.add (i32.const 8) (i32.mul (local.get $k) (i32.const 24)))))
        (local.set $from (i64.load (local.get $s)))
        (if (i32.and
              (i64.ge_s (local.get $x) (local.get $from))
              (i64.lt_s (local.get $x) (i64.add (local.get $from) (i64.load offset=16 (local.get $s)))))
          (then
            (return (i64.add (i64.sub (local.get $x) (local.get $from)) (i64.load offset=8 (local.get $s))))))))
    (local.set $k (i32.const 0))
    (local.set $s (i32.add (local.get $t) (i32.const 8)))
    (block $none
      (loop $next
        (br_if $none (i32.ge_u (local.get $k) (local.get $n)))
        (local.set $from (i64.load (local.get $s)))
        (if (i32.and
              (i64.ge_s (local.get $x) (local.get $from))
              (i64.lt_s (local.get $x) (i64.add (local.get $from) (i64.load offset=16 (local.get $s)))))
          (then
            (i32.store offset=4 (local.get $t) (local.get $k))
            (return (i64.add (i64.sub (local.get $x) (local.get $from)) (i64.load offset=8 (local.get $s))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (local.set $s (i32.add (local.get $s) (i32.const 24)))
        (br $next)))
    (i64.const -1))

  ;; Where the field at offset $f of the file at $file points, as an offset of that file (through
  ;; its tables $toV and $toO), or -1. The field's value is relative to the end of the
  ;; instruction: 4 bytes of field and $tail of immediate after it.
  (func $target (param $file i32) (param $toV i32) (param $toO i32) (param $f i32) (param $tail i32)
    (result i64)
    (local $fv i64)
    (local.set $fv (call $segmap (local.get $toV) (i64.extend_i32_u (local.get $f))))
    (if (i64.lt_s (local.get $fv) (i64.const 0)) (then (return (i64.const -1))))
    (call $segmap (local.get $toO)
      (i64.add
        (i64.add (local.get $fv) (i64.extend_i32_u (i32.add (local.get $tail) (i32.const 4))))
        (i64.extend_i32_s (i32.load (i32.add (local.get $file) (local.get $f)))))))

  (func (export "target") (param $file i32) (param $toV i32) (param $toO i32) (param $f i32)
    (param $tail i32) (result f64)
    (f64.convert_i64_s
      (call $target (local.get $file) (local.get $toV) (local.get $toO) (local.get $f) (local.get $tail))))

  ;; Bucket index of an ascending array of non-negative i32: first[b] is the first index j with
  ;; a[j] >= b * 256, for b in [0, $buckets]. A lookup then searches one bucket's entries (a few)
  ;; where a binary search over the whole array took fifteen steps, each a cache miss.
  (func (export "index") (param $a i32) (param $n i32) (param $first i32) (param $buckets i32)
    (local $b i32) (local $j i32)
    (block $done
      (loop $bucket
        (br_if $done (i32.gt_u (local.get $b) (local.get $buckets)))
        (block $placed
          (loop $skip
            (br_if $placed (i32.ge_u (local.get $j) (local.get $n)))
            (br_if $placed
              (i32.ge_s (i32.load (i32.add (local.get $a) (i32.shl (local.get $j) (i32.const 2))))
                (i32.shl (local.get $b) (i32.const 8))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $skip)))
        (i32.store (i32.add (local.get $first) (i32.shl (local.get $b) (i32.const 2))) (local.get $j))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bucket))))

  ;; The last index j of the indexed array $a with a[j] <= $t, or -1 ($t under the index's
  ;; buckets * 256).
  (func $lastAtOrBelow (param $a i32) (param $first i32) (param $t i32) (result i32)
    (local $lo i32) (local $hi i32) (local $m i32) (local $e i32)
    (local.set $e (i32.add (local.get $first) (i32.shl (i32.shr_u (local.get $t) (i32.const 8)) (i32.const 2))))
    (local.set $lo (i32.load (local.get $e)))
    (local.set $hi (i32.load offset=4 (local.get $e)))
    ;; the first index of the bucket holding a value above $t
    (block $found
      (loop $search
        (br_if $found (i32.ge_u (local.get $lo) (local.get $hi)))
        (local.set $m (i32.shr_u (i32.add (local.get $lo) (local.get $hi)) (i32.const 1)))
        (if (i32.le_s (i32.load (i32.add (local.get $a) (i32.shl (local.get $m) (i32.const 2)))) (local.get $t))
          (then (local.set $lo (i32.add (local.get $m) (i32.const 1))))
          (else (local.set $hi (local.get $m))))
        (br $search)))
    (i32.sub (local.get $lo) (i32.const 1)))

  ;; Where old target offset $t is in the new file: its correction, else the latest-starting of
  ;; the last four copy ranges starting at or before it that hold it; -1 for none (and for an
  ;; offset outside the base: no field points there).
  (func $carry (export "carry") (param $t i32) (result i32)
    (local $r i32) (local $m i32) (local $o i32)
    (if (i32.ge_u (local.get $t) (global.get $baseLen)) (then (return (i32.const -1))))
    ;; most targets have no correction in their bucket: then not even one is read
    (local.set $m (i32.add (global.get $fixFirst) (i32.shl (i32.shr_u (local.get $t) (i32.const 8)) (i32.const 2))))
    (if (i32.lt_u (i32.load (local.get $m)) (i32.load offset=4 (local.get $m)))
      (then
        (local.set $r (call $lastAtOrBelow (global.get $fixFrom) (global.get $fixFirst) (local.get $t)))
        (if (i32.ge_s (local.get $r) (i32.const 0))
          (then
            (if (i32.eq (i32.load (i32.add (global.get $fixFrom) (i32.shl (local.get $r) (i32.const 2)))) (local.get $t))
              (then (return (i32.load (i32.add (global.get $fixTo) (i32.shl (local.get $r) (i32.const 2)))))))))))
    (local.set $r (call $lastAtOrBelow (global.get $cpO) (global.get $cpFirst) (local.get $t)))
    (local.set $m (local.get $r))
    (block $none
      (loop $back
        (br_if $none (i32.or (i32.lt_s (local.get $m) (i32.const 0))
                             (i32.le_s (local.get $m) (i32.sub (local.get $r) (i32.const 4)))))
        (local.set $o (i32.load (i32.add (global.get $cpO) (i32.shl (local.get $m) (i32.const 2)))))
        (if (i32.lt_s (local.get $t)
              (i32.add (local.get $o) (i32.load (i32.add (global.get $cpX) (i32.shl (local.get $m) (i32.const 2))))))
          (then
            (return
              (i32.add
                (i32.load (i32.add (global.get $cpN) (i32.shl (local.get $m) (i32.const 2))))
                (i32.sub (local.get $t) (local.get $o))))))
        (local.set $m (i32.sub (local.get $m) (i32.const 1)))
        (br $back)))
    (i32.const -1))

  ;; The value the base's field at $f (copied to new offset $nf) should hold; outside the i32
  ;; range (2^32) to leave the copy as it is.
  (func $predict (param $f i32) (param $tail i32) (param $nf i32) (result i64)
    (local $t i64) (local $nt i32) (local $nfv i64) (local $ntv i64) (local $rel i64)
    (local.set $t (call $target (global.get $base) (global.get $oldV) (global.get $oldO) (local.get $f) (local.get $tail)))
    (if (i64.lt_s (local.get $t) (i64.const 0)) (then (return (i64.const 0x100000000))))
    (local.set $nt (call $carry (i32.wrap_i64 (local.get $t))))
    (if (i32.lt_s (local.get $nt) (i32.const 0)) (then (return (i64.const 0x100000000))))
    (local.set $nfv (call $segmap (global.get $newV) (i64.extend_i32_u (local.get $nf))))
    (local.set $ntv (call $segmap (global.get $newVt) (i64.extend_i32_u (local.get $nt))))
    (if (i32.or (i64.lt_s (local.get $nfv) (i64.const 0)) (i64.lt_s (local.get $ntv) (i64.const 0)))
      (then (return (i64.const 0x100000000))))
    (local.set $rel
      (i64.sub (local.get $ntv)
        (i64.add (local.get $nfv) (i64.extend_i32_u (i32.add (local.get $tail) (i32.const 4))))))
    (if (i32.or (i64.lt_s (local.get $rel) (i64.const -0x80000000)) (i64.gt_s (local.get $rel) (i64.const 0x7fffffff)))
      (then (return (i64.const 0x100000000))))
    (local.get $rel))

  (func (export "predict") (param $f i32) (param $tail i32) (param $nf i32) (result f64)
    (f64.convert_i64_s (call $predict (local.get $f) (local.get $tail) (local.get $nf))))

  ;; The first field of the base at or after $f (an index into the fields; $fCount for none).
  (func $fieldAtOrAfter (param $f i32) (result i32)
    (local $lo i32) (local $hi i32) (local $m i32)
    (local.set $hi (global.get $fCount))
    (block $found
      (loop $search
        (br_if $found (i32.ge_u (local.get $lo) (local.get $hi)))
        (local.set $m (i32.shr_u (i32.add (local.get $lo) (local.get $hi)) (i32.const 1)))
        (if (i32.lt_u (i32.load (i32.add (global.get $fAt) (i32.shl (local.get $m) (i32.const 2)))) (local.get $f))
          (then (local.set $lo (i32.add (local.get $m) (i32.const 1))))
          (else (local.set $hi (local.get $m))))
        (br $search)))
    (local.get $lo))

  ;; The index of the entry of segment table $t holding all of [$x, $x + $len), or -1.
  (func $segHolding (param $t i32) (param $x i64) (param $len i64) (result i32)
    (local $k i32) (local $s i32) (local $from i64)
    (local.set $s (i32.add (local.get $t) (i32.const 8)))
    (block $none
      (loop $next
        (br_if $none (i32.ge_u (local.get $k) (i32.load (local.get $t))))
        (local.set $from (i64.load (local.get $s)))
        (if (i32.and
              (i64.ge_s (local.get $x) (local.get $from))
              (i64.le_s (i64.add (local.get $x) (local.get $len))
                (i64.add (local.get $from) (i64.load offset=16 (local.get $s)))))
          (then (return (local.get $k))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (local.set $s (i32.add (local.get $s) (i32.const 24)))
        (br $next)))
    (i32.const -1))

  ;; Writes the predicted value of every field wholly inside base[$oldpos, $oldpos + $len),
  ;; copied to $res[$newpos, $newpos + $len): what $predict gives each, computed in one loop.
  ;; When the segment tables are disjoint ($segDisjoint) and the range lies inside one segment of
  ;; each file (nearly every range: code is one segment), each field's address is its offset plus
  ;; that segment's constant, and a target in the same segment (calls and jumps) maps back by the
  ;; same constant; other targets go through $segmap, as $predict does. The values are the same:
  ;; with disjoint tables at most one segment holds an offset or address.
  (func $predictRange (param $res i32) (param $oldpos i32) (param $newpos i32) (param $len i32)
    (local $lo i32) (local $m i32) (local $f i32) (local $v i64) (local $end i32)
    (local $so i32) (local $sn i32) (local $dOld i64) (local $dNew i64) (local $vLo i64) (local $vHi i64)
    (local $nLo i64) (local $nHi i64) (local $tail i32) (local $a i64) (local $nt i32) (local $ntv i64)
    (local $nf i32) (local $fAt i32) (local $fTail i32) (local $fCount i32) (local $base i32)
    (local $t i32) (local $r i32) (local $cm i32) (local $co i32) (local $blo i32) (local $bhi i32)
    (local $cpO i32) (local $cpFirst i32)
    (local.set $fAt (global.get $fAt))
    (local.set $fTail (global.get $fTail))
    (local.set $fCount (global.get $fCount))
    (local.set $cpO (global.get $cpO))
    (local.set $cpFirst (global.get $cpFirst))
    (local.set $end (i32.add (local.get $oldpos) (local.get $len)))
    (local.set $lo (call $fieldAtOrAfter (local.get $oldpos)))
    (local.set $so (i32.const -1))
    (local.set $sn (i32.const -1))
    (if (global.get $segDisjoint)
      (then
        (local.set $so
          (call $segHolding (global.get $oldV) (i64.extend_i32_u (local.get $oldpos)) (i64.extend_i32_u (local.get $len))))
        (local.set $sn
          (call $segHolding (global.get $newV) (i64.extend_i32_u (local.get $newpos)) (i64.extend_i32_u (local.get $len))))))
    (if (i32.and (i32.ge_s (local.get $so) (i32.const 0)) (i32.ge_s (local.get $sn) (i32.const 0)))
      (then
        ;; old: offset + $dOld is the address; addresses [$vLo, $vHi) are this segment's
        (local.set $m (i32.add (global.get $oldV) (i32.add (i32.const 8) (i32.mul (local.get $so) (i32.const 24)))))
        (local.set $vLo (i64.load offset=8 (local.get $m)))
        (local.set $dOld (i64.sub (local.get $vLo) (i64.load (local.get $m))))
        (local.set $vHi (i64.add (local.get $vLo) (i64.load offset=16 (local.get $m))))
        ;; new: offsets [$nLo, $nHi) are this segment's, at offset + $dNew
        (local.set $m (i32.add (global.get $newV) (i32.add (i32.const 8) (i32.mul (local.get $sn) (i32.const 24)))))
        (local.set $nLo (i64.load (local.get $m)))
        (local.set $dNew (i64.sub (i64.load offset=8 (local.get $m)) (local.get $nLo)))
        (local.set $nHi (i64.add (local.get $nLo) (i64.load offset=16 (local.get $m))))
        (local.set $base (global.get $base))
        (block $done
          (loop $field
            (br_if $done (i32.ge_u (local.get $lo) (local.get $fCount)))
            (local.set $f (i32.load (i32.add (local.get $fAt) (i32.shl (local.get $lo) (i32.const 2)))))
            (br_if $done (i32.gt_u (i32.add (local.get $f) (i32.const 4)) (local.get $end)))
            (local.set $tail (i32.add (i32.load8_u (i32.add (local.get $fTail) (local.get $lo))) (i32.const 4)))
            (local.set $lo (i32.add (local.get $lo) (i32.const 1)))
            ;; the target's address, then its base offset
            (local.set $a
              (i64.add
                (i64.add (i64.extend_i32_u (local.get $f)) (local.get $dOld))
                (i64.add (i64.extend_i32_u (local.get $tail))
                  (i64.extend_i32_s (i32.load (i32.add (local.get $base) (local.get $f)))))))
            (if (i32.and (i64.ge_s (local.get $a) (local.get $vLo)) (i64.lt_s (local.get $a) (local.get $vHi)))
              (then (local.set $a (i64.sub (local.get $a) (local.get $dOld))))
              (else (local.set $a (call $segmap (global.get $oldO) (local.get $a)))))
            (br_if $field (i64.lt_s (local.get $a) (i64.const 0)))
            ;; $carry, inline (a call per field cost more than the lookup in baseline code)
            (local.set $t (i32.wrap_i64 (local.get $a)))
            (br_if $field (i32.ge_u (local.get $t) (global.get $baseLen)))
            (local.set $nt (i32.const -1))
            (block $carried
              (local.set $cm (i32.add (global.get $fixFirst) (i32.shl (i32.shr_u (local.get $t) (i32.const 8)) (i32.const 2))))
              (if (i32.lt_u (i32.load (local.get $cm)) (i32.load offset=4 (local.get $cm)))
                (then
                  (local.set $r (call $lastAtOrBelow (global.get $fixFrom) (global.get $fixFirst) (local.get $t)))
                  (if (i32.ge_s (local.get $r) (i32.const 0))
                    (then
                      (if (i32.eq (i32.load (i32.add (global.get $fixFrom) (i32.shl (local.get $r) (i32.const 2)))) (local.get $t))
                        (then
                          (local.set $nt (i32.load (i32.add (global.get $fixTo) (i32.shl (local.get $r) (i32.const 2)))))
                          (br $carried)))))))
              ;; the last range starting at or before $t ($lastAtOrBelow over the copy ranges)
              (local.set $cm (i32.add (local.get $cpFirst) (i32.shl (i32.shr_u (local.get $t) (i32.const 8)) (i32.const 2))))
              (local.set $blo (i32.load (local.get $cm)))
              (local.set $bhi (i32.load offset=4 (local.get $cm)))
              (block $bfound
                (loop $bsearch
                  (br_if $bfound (i32.ge_u (local.get $blo) (local.get $bhi)))
                  (local.set $r (i32.shr_u (i32.add (local.get $blo) (local.get $bhi)) (i32.const 1)))
                  (if (i32.le_s (i32.load (i32.add (local.get $cpO) (i32.shl (local.get $r) (i32.const 2)))) (local.get $t))
                    (then (local.set $blo (i32.add (local.get $r) (i32.const 1))))
                    (else (local.set $bhi (local.get $r))))
                  (br $bsearch)))
              (local.set $r (i32.sub (local.get $blo) (i32.const 1)))
              ;; the latest-starting of the last four that holds $t
              (local.set $cm (local.get $r))
              (loop $back
                (br_if $carried (i32.or (i32.lt_s (local.get $cm) (i32.const 0))
                                        (i32.le_s (local.get $cm) (i32.sub (local.get $r) (i32.const 4)))))
                (local.set $co (i32.load (i32.add (local.get $cpO) (i32.shl (local.get $cm) (i32.const 2)))))
                (if (i32.lt_s (local.get $t)
                      (i32.add (local.get $co) (i32.load (i32.add (global.get $cpX) (i32.shl (local.get $cm) (i32.const 2))))))
                  (then
                    (local.set $nt
                      (i32.add
                        (i32.load (i32.add (global.get $cpN) (i32.shl (local.get $cm) (i32.const 2))))
                        (i32.sub (local.get $t) (local.get $co))))
                    (br $carried)))
                (local.set $cm (i32.sub (local.get $cm) (i32.const 1)))
                (br $back)))
            (br_if $field (i32.lt_s (local.get $nt) (i32.const 0)))
            ;; the target's new address, less the new field's end
            (local.set $ntv (i64.extend_i32_u (local.get $nt)))
            (if (i32.and (i64.ge_s (local.get $ntv) (local.get $nLo)) (i64.lt_s (local.get $ntv) (local.get $nHi)))
              (then (local.set $ntv (i64.add (local.get $ntv) (local.get $dNew))))
              (else (local.set $ntv (call $segmap (global.get $newVt) (local.get $ntv)))))
            (br_if $field (i64.lt_s (local.get $ntv) (i64.const 0)))
            (local.set $nf (i32.add (local.get $newpos) (i32.sub (local.get $f) (local.get $oldpos))))
            (local.set $v
              (i64.sub (local.get $ntv)
                (i64.add (i64.add (i64.extend_i32_u (local.get $nf)) (local.get $dNew)) (i64.extend_i32_u (local.get $tail)))))
            (br_if $field
              (i32.or (i64.lt_s (local.get $v) (i64.const -0x80000000)) (i64.gt_s (local.get $v) (i64.const 0x7fffffff))))
            (i32.store (i32.add (local.get $res) (local.get $nf)) (i32.wrap_i64 (local.get $v)))
            (br $field)))
        (return)))
    (block $done
      (loop $field
        (br_if $done (i32.ge_u (local.get $lo) (local.get $fCount)))
        (local.set $f (i32.load (i32.add (local.get $fAt) (i32.shl (local.get $lo) (i32.const 2)))))
        (br_if $done (i32.gt_u (i32.add (local.get $f) (i32.const 4)) (local.get $end)))
        (local.set $v
          (call $predict
            (local.get $f)
            (i32.load8_u (i32.add (local.get $fTail) (local.get $lo)))
            (i32.add (local.get $newpos) (i32.sub (local.get $f) (local.get $oldpos)))))
        (if (i64.ne (local.get $v) (i64.const 0x100000000))
          (then
            (i32.store
              (i32.add (local.get $res) (i32.add (local.get $newpos) (i32.sub (local.get $f) (local.get $oldpos))))
              (i32.wrap_i64 (local.get $v)))))
        (local.set $lo (i32.add (local.get $lo) (i32.const 1)))
        (br $field))))

;; ---------------------------------------------------------------------------------------
  ;; bsdiff's control triples as three f64 columns at $cx, $cy, $cz: $rows triples at $raw, as
  ;; rows of three 8-byte cells (bsdiff 4.3), or as three columns ($columns: bsdiff-best). Each
  ;; cell is a sign-magnitude offset (bsdiff's offtin); a magnitude of 2^53 or more is not exact as
  ;; a double: NaN, which `apply` refuses.
  (func (export "control") (param $raw i32) (param $rows i32) (param $columns i32) (param $cx i32)
    (param $cy i32) (param $cz i32)
    (local $j i32) (local $k i32) (local $dst i32) (local $cell i64) (local $mag i64) (local $v f64)
    (block $colsDone
      (loop $col
        (br_if $colsDone (i32.ge_u (local.get $j) (i32.const 3)))
        (local.set $dst
          (select (local.get $cx)
            (select (local.get $cy) (local.get $cz) (i32.eq (local.get $j) (i32.const 1)))
            (i32.eqz (local.get $j))))
        (local.set $k (i32.const 0))
        (block $rowsDone
          (loop $row
            (br_if $rowsDone (i32.ge_u (local.get $k) (local.get $rows)))
            (local.set $cell
              (i64.load
                (i32.add (local.get $raw)
                  (select
                    (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $k)) (i32.const 3))
                    (i32.add (i32.mul (local.get $k) (i32.const 24)) (i32.shl (local.get $j) (i32.const 3)))
                    (local.get $columns)))))
            (local.set $mag (i64.and (local.get $cell) (i64.const 0x7fffffffffffffff)))
            (local.set $v
              (select (f64.const nan) (f64.convert_i64_u (local.get $mag))
                (i64.ge_u (local.get $mag) (i64.const 0x20000000000000))))
            (f64.store (i32.add (local.get $dst) (i32.shl (local.get $k) (i32.const 3)))
              (select (f64.neg (local.get $v)) (local.get $v) (i64.lt_s (local.get $cell) (i64.const 0))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $row)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $col))))

  ;; A reference table's corrections (x86-refs.ts serializeRefTable): $n old-target deltas (i32,
  ;; each after the first above zero) at $src, then $n shifts, into absolute old targets at $from
  ;; and their new places at $to. Returns 0, or -1 when a correction is out of order or outside
  ;; the files.
  (func (export "fixes") (param $src i32) (param $n i32) (param $baseSize i32) (param $newSize i32)
    (param $from i32) (param $to i32) (result i32)
    (local $k i32) (local $dt i32) (local $t i64) (local $v i64)
    (block $done
      (loop $fix
        (br_if $done (i32.ge_u (local.get $k) (local.get $n)))
        (local.set $dt (i32.load (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2)))))
        (if (i32.and (i32.gt_u (local.get $k) (i32.const 0)) (i32.le_s (local.get $dt) (i32.const 0)))
          (then (return (i32.const -1))))
        (local.set $t (i64.add (local.get $t) (i64.extend_i32_s (local.get $dt))))
        (local.set $v
          (i64.add (local.get $t)
            (i64.extend_i32_s
              (i32.load (i32.add (local.get $src) (i32.shl (i32.add (local.get $n) (local.get $k)) (i32.const 2)))))))
        (if (i32.or
              (i32.or (i64.lt_s (local.get $t) (i64.const 0)) (i64.ge_s (local.get $t) (i64.extend_i32_u (local.get $baseSize))))
              (i32.or (i64.lt_s (local.get $v) (i64.const 0)) (i64.ge_s (local.get $v) (i64.extend_i32_u (local.get $newSize)))))
          (then (return (i32.const -1))))
        (i32.store (i32.add (local.get $from) (i32.shl (local.get $k) (i32.const 2))) (i32.wrap_i64 (local.get $t)))
        (i32.store (i32.add (local.get $to) (i32.shl (local.get $k) (i32.const 2))) (i32.wrap_i64 (local.get $v)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $fix)))
    (i32.const 0))

  ;; The copy ranges of $rows triples (f64 columns): old start, new start and length of every
  ;; triple with x > 0 that starts at a non-negative old offset and ends below 2^30 in both files
  ;; (offsets past that carry nothing), written to $o2, $n2, $x2 in triple order, then sorted by
  ;; old start into $o, $n, $x, stably (ties stay in triple order), by three 10-bit radix passes
  ;; with a 1024-entry count table at $count (two 15-bit passes cost 65,536 steps of counting
  ;; whatever the number of ranges: more than sorting a 2 MB program's few thousand). Returns how
  ;; many there are.
  (func (export "ranges") (param $rows i32) (param $cx i32) (param $cy i32) (param $cz i32)
    (param $o i32) (param $n i32) (param $x i32) (param $o2 i32) (param $n2 i32) (param $x2 i32)
    (param $count i32) (result i32)
    (local $k i32) (local $m i32) (local $op f64) (local $np f64) (local $xv f64) (local $at i32)
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $k) (local.get $rows)))
        (local.set $at (i32.shl (local.get $k) (i32.const 3)))
        (local.set $xv (f64.load (i32.add (local.get $cx) (local.get $at))))
        (if (i32.and
              (i32.and (f64.gt (local.get $xv) (f64.const 0)) (f64.ge (local.get $op) (f64.const 0)))
              (i32.and
                (f64.lt (f64.add (local.get $op) (local.get $xv)) (f64.const 0x40000000))
                (f64.lt (f64.add (local.get $np) (local.get $xv)) (f64.const 0x40000000))))
          (then
            (i32.store (i32.add (local.get $o2) (i32.shl (local.get $m) (i32.const 2))) (i32.trunc_f64_u (local.get $op)))
            (i32.store (i32.add (local.get $n2) (i32.shl (local.get $m) (i32.const 2))) (i32.trunc_f64_u (local.get $np)))
            (i32.store (i32.add (local.get $x2) (i32.shl (local.get $m) (i32.const 2))) (i32.trunc_f64_u (local.get $xv)))
            (local.set $m (i32.add (local.get $m) (i32.const 1)))))
        (local.set $np (f64.add (local.get $np) (f64.add (local.get $xv) (f64.load (i32.add (local.get $cy) (local.get $at))))))
        (local.set $op (f64.add (local.get $op) (f64.add (local.get $xv) (f64.load (i32.add (local.get $cz) (local.get $at))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $row)))
    (call $radixPass (local.get $o2) (local.get $n2) (local.get $x2) (local.get $o) (local.get $n) (local.get $x)
      (local.get $m) (i32.const 0) (local.get $count))
    (call $radixPass (local.get $o) (local.get $n) (local.get $x) (local.get $o2) (local.get $n2) (local.get $x2)
      (local.get $m) (i32.const 10) (local.get $count))
    (call $radixPass (local.get $o2) (local.get $n2) (local.get $x2) (local.get $o) (local.get $n) (local.get $x)
      (local.get $m) (i32.const 20) (local.get $count))
    (local.get $m))

  ;; One stable counting-sort pass of ($o, $n, $x) into ($o2, $n2, $x2) by 10 bits of $o from $shift.
  (func $radixPass (param $o i32) (param $n i32) (param $x i32) (param $o2 i32) (param $n2 i32) (param $x2 i32)
    (param $m i32) (param $shift i32) (param $count i32)
    (local $k i32) (local $d i32) (local $sum i32) (local $c i32) (local $p i32) (local $v i32)
    (memory.fill (local.get $count) (i32.const 0) (i32.const 4096))
    (block $counted
      (loop $each
        (br_if $counted (i32.ge_u (local.get $k) (local.get $m)))
        (local.set $d
          (i32.add (local.get $count)
            (i32.shl
              (i32.and
                (i32.shr_u (i32.load (i32.add (local.get $o) (i32.shl (local.get $k) (i32.const 2)))) (local.get $shift))
                (i32.const 0x3ff))
              (i32.const 2))))
        (i32.store (local.get $d) (i32.add (i32.load (local.get $d)) (i32.const 1)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $each)))
    ;; each digit's first place: the counts of the digits before it
    (local.set $k (i32.const 0))
    (block $summed
      (loop $digit
        (br_if $summed (i32.ge_u (local.get $k) (i32.const 1024)))
        (local.set $d (i32.add (local.get $count) (i32.shl (local.get $k) (i32.const 2))))
        (local.set $c (i32.load (local.get $d)))
        (i32.store (local.get $d) (local.get $sum))
        (local.set $sum (i32.add (local.get $sum) (local.get $c)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $digit)))
    (local.set $k (i32.const 0))
    (block $moved
      (loop $each
        (br_if $moved (i32.ge_u (local.get $k) (local.get $m)))
        (local.set $v (i32.load (i32.add (local.get $o) (i32.shl (local.get $k) (i32.const 2)))))
        (local.set $d
          (i32.add (local.get $count)
            (i32.shl (i32.and (i32.shr_u (local.get $v) (local.get $shift)) (i32.const 0x3ff)) (i32.const 2))))
        (local.set $p (i32.shl (i32.load (local.get $d)) (i32.const 2)))
        (i32.store (local.get $d) (i32.add (i32.load (local.get $d)) (i32.const 1)))
        (i32.store (i32.add (local.get $o2) (local.get $p)) (local.get $v))
        (i32.store (i32.add (local.get $n2) (local.get $p))
          (i32.load (i32.add (local.get $n) (i32.shl (local.get $k) (i32.const 2)))))
        (i32.store (i32.add (local.get $x2) (local.get $p))
          (i32.load (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $each))))

  ;; ---------------------------------------------------------------------------------------
  ;; $dst[0, $len) += $src[0, $len) bytewise, sixteen lanes at a time.
  (func $add (param $dst i32) (param $src i32) (param $len i32)
    (local $j i32)
    (block $vecDone
      (loop $vec
        (br_if $vecDone (i32.gt_u (i32.add (local.get $j) (i32.const 16)) (local.get $len)))
        (v128.store (i32.add (local.get $dst) (local.get $j))
          (i8x16.add
            (v128.load (i32.add (local.get $dst) (local.get $j)))
            (v128.load (i32.add (local.get $src) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $vec)))
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $j) (local.get $len)))
        (i32.store8 (i32.add (local.get $dst) (local.get $j))
          (i32.add
            (i32.load8_u (i32.add (local.get $dst) (local.get $j)))
            (i32.load8_u (i32.add (local.get $src) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $byte))))

  ;; The sparse diff's cursor while `apply` runs (see $sparseAdd).
  (global $sp (mut i32) (i32.const 0))
  (global $spEnd (mut i32) (i32.const 0))
  (global $zeroLeft (mut i32) (i32.const 0))
  (global $litLeft (mut i32) (i32.const 0))

  ;; One LEB128 varint of the sparse diff, at most 2^31 - 1; -1 when it is longer, larger, or runs
  ;; past the end.
  (func $varint (result i32)
    (local $v i64) (local $b i32) (local $shift i64)
    (block $done
      (loop $byte
        (if (i32.or (i32.ge_u (global.get $sp) (global.get $spEnd)) (i64.gt_u (local.get $shift) (i64.const 28)))
          (then (return (i32.const -1))))
        (local.set $b (i32.load8_u (global.get $sp)))
        (global.set $sp (i32.add (global.get $sp) (i32.const 1)))
        (local.set $v
          (i64.or (local.get $v) (i64.shl (i64.extend_i32_u (i32.and (local.get $b) (i32.const 0x7f))) (local.get $shift))))
        (local.set $shift (i64.add (local.get $shift) (i64.const 7)))
        (br_if $byte (i32.and (local.get $b) (i32.const 0x80)))))
    (if (i64.gt_u (local.get $v) (i64.const 0x7fffffff)) (then (return (i32.const -1))))
    (i32.wrap_i64 (local.get $v)))

  ;; Adds the next $len bytes of the sparse diff to $dst. The sparse diff (bsdiff-x86's diff
  ;; frame: model/encoded.ts) is records of a zero run and a literal length (LEB128 varints, the
  ;; literal at least one byte) followed by the literal; bytes past the last record are zero.
  ;; Returns 0, or -3 for a malformed record.
  (func $sparseAdd (param $dst i32) (param $len i32) (result i32)
    (local $n i32) (local $j i32)
    (block $done
      (loop $run
        (br_if $done (i32.eqz (local.get $len)))
        (if (global.get $zeroLeft)
          (then
            (local.set $n (select (global.get $zeroLeft) (local.get $len) (i32.lt_u (global.get $zeroLeft) (local.get $len))))
            (global.set $zeroLeft (i32.sub (global.get $zeroLeft) (local.get $n))))
          (else
            (if (global.get $litLeft)
              (then
                (local.set $n (select (global.get $litLeft) (local.get $len) (i32.lt_u (global.get $litLeft) (local.get $len))))
                (if (i32.lt_u (local.get $n) (i32.const 16))
                  (then
                    (local.set $j (i32.const 0))
                    (block $litDone
                      (loop $lit
                        (br_if $litDone (i32.ge_u (local.get $j) (local.get $n)))
                        (i32.store8 (i32.add (local.get $dst) (local.get $j))
                          (i32.add (i32.load8_u (i32.add (local.get $dst) (local.get $j)))
                            (i32.load8_u (i32.add (global.get $sp) (local.get $j)))))
                        (local.set $j (i32.add (local.get $j) (i32.const 1)))
                        (br $lit))))
                  (else (call $add (local.get $dst) (global.get $sp) (local.get $n))))
                (global.set $sp (i32.add (global.get $sp) (local.get $n)))
                (global.set $litLeft (i32.sub (global.get $litLeft) (local.get $n))))
              (else
                ;; the next record, or zeros to the end. Varints of one byte (runs and literals under
                ;; 128: nearly all) are read here, and short literals added here: a call each cost
                ;; more than the work in the baseline code a one-off apply mostly runs in.
                (br_if $done (i32.ge_u (global.get $sp) (global.get $spEnd)))
                (local.set $n (i32.load8_u (global.get $sp)))
                (if (i32.lt_u (local.get $n) (i32.const 0x80))
                  (then
                    (global.set $zeroLeft (local.get $n))
                    (global.set $sp (i32.add (global.get $sp) (i32.const 1))))
                  (else (global.set $zeroLeft (call $varint))))
                ;; (a record cut off after its first varint goes to $varint, which refuses it)
                (if (i32.lt_u (global.get $sp) (global.get $spEnd))
                  (then (local.set $n (i32.load8_u (global.get $sp))))
                  (else (local.set $n (i32.const 0x80))))
                (if (i32.lt_u (local.get $n) (i32.const 0x80))
                  (then
                    (global.set $litLeft (local.get $n))
                    (global.set $sp (i32.add (global.get $sp) (i32.const 1))))
                  (else (global.set $litLeft (call $varint))))
                (if (i32.or
                      (i32.or (i32.lt_s (global.get $zeroLeft) (i32.const 0)) (i32.le_s (global.get $litLeft) (i32.const 0)))
                      (i32.gt_u (global.get $litLeft) (i32.sub (global.get $spEnd) (global.get $sp))))
                  (then (return (i32.const -3))))
                (local.set $n (i32.const 0))))))
        (local.set $dst (i32.add (local.get $dst) (local.get $n)))
        (local.set $len (i32.sub (local.get $len) (local.get $n)))
        (br $run)))
    (i32.const 0))

  ;; Where the apply is between windows (see `apply`): the triple it is in, and where that
  ;; triple starts in the base, the result, the diff and the extra block.
  (global $aK (mut i32) (i32.const 0))
  (global $aOld (mut f64) (f64.const 0))
  (global $aNew (mut i32) (i32.const 0))
  (global $aD (mut i32) (i32.const 0))
  (global $aE (mut i32) (i32.const 0))

  ;; Starts an apply: the first triple, and the sparse diff's cursor at $diff ($diffLen bytes).
  (func (export "applyBegin") (param $diff i32) (param $diffLen i32)
    (global.set $aK (i32.const 0))
    (global.set $aOld (f64.const 0))
    (global.set $aNew (i32.const 0))
    (global.set $aD (i32.const 0))
    (global.set $aE (i32.const 0))
    (global.set $sp (local.get $diff))
    (global.set $spEnd (i32.add (local.get $diff) (local.get $diffLen)))
    (global.set $zeroLeft (i32.const 0))
    (global.set $litLeft (i32.const 0)))

  ;; bspatch (bsdiff 4.3's algorithm), one window of the result at a time: the bytes of
  ;; [$wStart, $wEnd) are written to $res + offset ($res: where byte 0 of the result would be; for
  ;; a window, the window's address less $wStart, wrapping). $rows control triples as three f64
  ;; columns at $cx, $cy, $cz; bytes outside the base count as zero. With $predict, the base's
  ;; fields are predicted (the globals above) before the diff is added; a field across $wEnd ends
  ;; the window at its start instead, so every field is predicted once, whole, in order, as in one
  ;; window over the whole result. With $sparse, the diff is sparse ($sparseAdd). `applyBegin`
  ;; first; each call goes on from where the last stopped. Returns where this window ended (the
  ;; next one starts there; $newSize when the result is whole), or -1 when the control block ends
  ;; before the result is whole, -2 for a triple out of bounds, -3 for a diff or extra block
  ;; shorter than the triples say, or a sparse diff malformed or longer.
  (func (export "apply")
    (param $rows i32) (param $cx i32) (param $cy i32) (param $cz i32)
    (param $diff i32) (param $diffLen i32) (param $extra i32) (param $extraLen i32)
    (param $base i32) (param $baseLen i32) (param $res i32) (param $newSize i32) (param $predict i32)
    (param $sparse i32) (param $wStart i32) (param $wEnd i32) (result i32)
    (local $k i32) (local $x f64) (local $y f64) (local $z f64) (local $oldpos f64)
    (local $newpos i32) (local $dpos i32) (local $epos i32) (local $xi i32) (local $yi i32)
    (local $from i32) (local $to i32) (local $o i32) (local $cut i32) (local $a i32) (local $b i32)
    (local $ha i32) (local $hb i32) (local $j i32) (local $f i32)
    (local.set $k (global.get $aK))
    (local.set $oldpos (global.get $aOld))
    (local.set $newpos (global.get $aNew))
    (local.set $dpos (global.get $aD))
    (local.set $epos (global.get $aE))
    (block $stop
      (loop $triple
        (br_if $stop (i32.ge_u (local.get $newpos) (local.get $newSize)))
        (if (i32.ge_u (local.get $newpos) (local.get $wEnd)) (then (local.set $cut (local.get $wEnd)) (br $stop)))
        (if (i32.ge_u (local.get $k) (local.get $rows)) (then (return (i32.const -1))))
        (local.set $x (f64.load (i32.add (local.get $cx) (i32.shl (local.get $k) (i32.const 3)))))
        (local.set $y (f64.load (i32.add (local.get $cy) (i32.shl (local.get $k) (i32.const 3)))))
        (local.set $z (f64.load (i32.add (local.get $cz) (i32.shl (local.get $k) (i32.const 3)))))
        ;; x, y not negative (NaN fails too), z finite (z - z is NaN for NaN and infinities), and
        ;; the triple's output inside the result
        (if (i32.eqz
              (i32.and
                (i32.and (f64.ge (local.get $x) (f64.const 0)) (f64.ge (local.get $y) (f64.const 0)))
                (f64.eq (f64.sub (local.get $z) (local.get $z)) (f64.const 0))))
          (then (return (i32.const -2))))
        (if (f64.gt
              (f64.add (f64.add (f64.convert_i32_u (local.get $newpos)) (local.get $x)) (local.get $y))
              (f64.convert_i32_u (local.get $newSize)))
          (then (return (i32.const -2))))
        (local.set $xi (i32.trunc_f64_u (local.get $x)))
        (local.set $yi (i32.trunc_f64_u (local.get $y)))
        (if (i32.or
              (i32.and (i32.eqz (local.get $sparse))
                (i32.gt_u (local.get $xi) (i32.sub (local.get $diffLen) (local.get $dpos))))
              (i32.gt_u (local.get $yi) (i32.sub (local.get $extraLen) (local.get $epos))))
          (then (return (i32.const -3))))
        ;; [from, to): the part of the x bytes the base holds
        (local.set $from
          (i32.trunc_f64_u (f64.min (local.get $x) (f64.max (f64.const 0) (f64.neg (local.get $oldpos))))))
        (local.set $to
          (i32.trunc_f64_u
            (f64.max (f64.convert_i32_u (local.get $from))
              (f64.min (local.get $x) (f64.sub (f64.convert_i32_u (local.get $baseLen)) (local.get $oldpos))))))
        ;; base offset of x byte 0 (meaningful where the base holds it)
        (local.set $o (i32.trunc_f64_s (f64.max (f64.const -0x80000000) (f64.min (local.get $oldpos) (f64.const 0x7fffffff)))))
        ;; where this window ends: $wEnd, or the start of a predicted field across it
        (local.set $cut (local.get $wEnd))
        (if (i32.and (local.get $predict)
              (i32.and (i32.gt_u (local.get $to) (local.get $from))
                (i32.lt_u (local.get $wEnd) (i32.add (local.get $newpos) (local.get $to)))))
          (then
            ;; the first field starting after new offset $wEnd - 4, if it starts before $wEnd and
            ;; lies wholly in the held part
            (local.set $j
              (call $fieldAtOrAfter
                (i32.add (local.get $o)
                  (select
                    (i32.sub (i32.sub (local.get $wEnd) (i32.const 3)) (local.get $newpos))
                    (local.get $from)
                    (i32.gt_s (i32.sub (i32.sub (local.get $wEnd) (i32.const 3)) (local.get $newpos)) (local.get $from))))))
            (if (i32.lt_u (local.get $j) (global.get $fCount))
              (then
                (local.set $f (i32.load (i32.add (global.get $fAt) (i32.shl (local.get $j) (i32.const 2)))))
                (if (i32.and
                      (i32.lt_s (i32.add (local.get $newpos) (i32.sub (local.get $f) (local.get $o))) (local.get $wEnd))
                      (i32.le_s (i32.add (i32.sub (local.get $f) (local.get $o)) (i32.const 4)) (local.get $to)))
                  (then (local.set $cut (i32.add (local.get $newpos) (i32.sub (local.get $f) (local.get $o))))))))))
        ;; this window's part of the x bytes: [a, b)
        (local.set $a (select (i32.sub (local.get $wStart) (local.get $newpos)) (i32.const 0)
          (i32.gt_s (local.get $wStart) (local.get $newpos))))
        (local.set $b (select (i32.sub (local.get $cut) (local.get $newpos)) (local.get $xi)
          (i32.lt_s (i32.sub (local.get $cut) (local.get $newpos)) (local.get $xi))))
        (if (i32.gt_s (local.get $b) (local.get $a))
          (then
            ;; where the base holds nothing: the dense diff is the result; a sparse one is added
            ;; below, to zeros
            (local.set $ha (select (local.get $from) (local.get $b) (i32.lt_s (local.get $from) (local.get $b))))
            (if (i32.gt_s (local.get $ha) (local.get $a))
              (then
                (if (local.get $sparse)
                  (then (memory.fill (i32.add (local.get $res) (i32.add (local.get $newpos) (local.get $a))) (i32.const 0)
                    (i32.sub (local.get $ha) (local.get $a))))
                  (else (memory.copy (i32.add (local.get $res) (i32.add (local.get $newpos) (local.get $a)))
                    (i32.add (local.get $diff) (i32.add (local.get $dpos) (local.get $a)))
                    (i32.sub (local.get $ha) (local.get $a)))))))
            (local.set $hb (select (local.get $to) (local.get $a) (i32.gt_s (local.get $to) (local.get $a))))
            (if (i32.gt_s (local.get $b) (local.get $hb))
              (then
                (if (local.get $sparse)
                  (then (memory.fill (i32.add (local.get $res) (i32.add (local.get $newpos) (local.get $hb))) (i32.const 0)
                    (i32.sub (local.get $b) (local.get $hb))))
                  (else (memory.copy (i32.add (local.get $res) (i32.add (local.get $newpos) (local.get $hb)))
                    (i32.add (local.get $diff) (i32.add (local.get $dpos) (local.get $hb)))
                    (i32.sub (local.get $b) (local.get $hb)))))))
            ;; where it does: [ha, hb), the base's bytes, its fields predicted, the diff added
            (local.set $ha (select (local.get $from) (local.get $a) (i32.gt_s (local.get $from) (local.get $a))))
            (local.set $hb (select (local.get $to) (local.get $b) (i32.lt_s (local.get $to) (local.get $b))))
            (if (i32.gt_s (local.get $hb) (local.get $ha))
              (then
                (memory.copy
                  (i32.add (local.get $res) (i32.add (local.get $newpos) (local.get $ha)))
                  (i32.add (local.get $base) (i32.add (local.get $o) (local.get $ha)))
                  (i32.sub (local.get $hb) (local.get $ha)))
                (if (local.get $predict)
                  (then
                    (call $predictRange (local.get $res) (i32.add (local.get $o) (local.get $ha))
                      (i32.add (local.get $newpos) (local.get $ha)) (i32.sub (local.get $hb) (local.get $ha)))))
                (if (i32.eqz (local.get $sparse))
                  (then
                    (call $add
                      (i32.add (local.get $res) (i32.add (local.get $newpos) (local.get $ha)))
                      (i32.add (local.get $diff) (i32.add (local.get $dpos) (local.get $ha)))
                      (i32.sub (local.get $hb) (local.get $ha)))))))
            (if (local.get $sparse)
              (then
                (if (call $sparseAdd (i32.add (local.get $res) (i32.add (local.get $newpos) (local.get $a)))
                      (i32.sub (local.get $b) (local.get $a)))
                  (then (return (i32.const -3))))))))
        ;; this window's part of the y bytes: the extra block's
        (local.set $a (select (i32.sub (local.get $wStart) (i32.add (local.get $newpos) (local.get $xi))) (i32.const 0)
          (i32.gt_s (i32.sub (local.get $wStart) (i32.add (local.get $newpos) (local.get $xi))) (i32.const 0))))
        (local.set $b (select (i32.sub (local.get $cut) (i32.add (local.get $newpos) (local.get $xi))) (local.get $yi)
          (i32.lt_s (i32.sub (local.get $cut) (i32.add (local.get $newpos) (local.get $xi))) (local.get $yi))))
        (if (i32.gt_s (local.get $b) (local.get $a))
          (then
            (memory.copy
              (i32.add (local.get $res) (i32.add (i32.add (local.get $newpos) (local.get $xi)) (local.get $a)))
              (i32.add (local.get $extra) (i32.add (local.get $epos) (local.get $a)))
              (i32.sub (local.get $b) (local.get $a)))))
        ;; the triple goes on past this window: the next window starts in it
        (br_if $stop (i32.gt_u (i32.add (local.get $newpos) (i32.add (local.get $xi) (local.get $yi))) (local.get $cut)))
        (local.set $dpos (i32.add (local.get $dpos) (local.get $xi)))
        (local.set $epos (i32.add (local.get $epos) (local.get $yi)))
        (local.set $newpos (i32.add (local.get $newpos) (i32.add (local.get $xi) (local.get $yi))))
        (local.set $oldpos (f64.add (local.get $oldpos) (f64.add (local.get $x) (local.get $z))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $triple)))
    (global.set $aK (local.get $k))
    (global.set $aOld (local.get $oldpos))
    (global.set $aNew (local.get $newpos))
    (global.set $aD (local.get $dpos))
    (global.set $aE (local.get $epos))
    (if (i32.lt_u (local.get $newpos) (local.get $newSize)) (then (return (local.get $cut))))
    ;; the result is whole; a sparse diff ends where the diff does: nothing of it left over
    (if (i32.and (local.get $sparse)
          (i32.or (i32.lt_u (global.get $sp) (global.get $spEnd))
            (i32.or (global.get $zeroLeft) (global.get $litLeft))))
      (then (return (i32.const -3))))
    (local.get $newSize))
)
