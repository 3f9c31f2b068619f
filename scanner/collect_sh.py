"""The collector's own sh: the prelude, the batch loop (:data:`INNER`) and the driver.

Kept apart from :mod:`scanner.collect`, which fills them in (the token, the part
functions, the limits, the host budget) and parses what they print. See its docstring
for the framing; the comments in the sh say why each step is there.
"""

from __future__ import annotations

_PRELUDE = r"""#!/bin/sh
# cii-scan {version} collector. Read-only: it reads files and asks tools for their
# state; it writes nothing on this host and needs no network.
# Offline use:  sh collector.sh > collector-output.txt
#               cii-scan evaluate collector-output.txt -b BASELINE
LC_ALL=C; LANG=C; export LC_ALL LANG
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH; export PATH
CII_M={token}; export CII_M
CII_UID=$(id -u 2>/dev/null); export CII_UID
if command -v timeout >/dev/null 2>&1; then cii_t=1; else cii_t=; fi
cii_sed={sed_program}
if command -v sed >/dev/null 2>&1; then cii_redact() {{ sed -E "$cii_sed"; }}
else cii_redact() {{ cat; }}; fi
# cii_framed: pass a batch's output on, and report on stderr (' f<N>', 'f-' for none) the
# last part whose end frame came through the batch's byte bound whole. The parts report
# their own end on fd 3 as they finish, but output the bound cut after they finished (in
# the pipe when head stopped reading) is lost, and such a part must run again. Without
# awk, the parts' own reports are all there is.
if command -v awk >/dev/null 2>&1; then
  cii_framed() {{ awk -v m="$CII_M" '{{ print }} $1 == m && $2 == "E" && NF == 4 {{ l = $3 }}
    END {{ printf " f%s", (l == "" ? "-" : l) > "/dev/stderr" }}'; }}
else cii_framed() {{ cat; }}; fi
# cii_clock WHEN: the host's own clock (UTC and local), boot id and name, at the start
# and the end of the run, so the evidence says when and where it was collected ("-":
# not available on this host)
cii_clock() {{
  cii_cu=$(date -u +%Y-%m-%dT%H:%M:%SZ 2>/dev/null); cii_cl=$(date +%Y-%m-%dT%H:%M:%S%z 2>/dev/null)
  cii_cb=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null); cii_cn=$(uname -n 2>/dev/null)
  printf '\n%s CLOCK %s %s %s %s %s\n' "$CII_M" "$1" "${{cii_cu:--}}" "${{cii_cl:--}}" \
    "${{cii_cb:--}}" "${{cii_cn:--}}"
}}
"""

# Runs parts $1 up to (not including) $2; the rest of the arguments define the part
# functions. After each part it reports the part's number on fd 3; under a host budget
# (CII_TB set) also, before it, the time it began (s<seconds>).
_INNER = r"""cii_i=$1; cii_e=$2; shift 2
for cii_c in "$@"; do eval "$cii_c"; done
while [ "$cii_i" -lt "$cii_e" ]; do
  [ -z "$CII_TB" ] || printf ' s%s' "$(date +%s 2>/dev/null)" >&3
  printf '\n%s B %s\n' "$CII_M" "$cii_i"
  "cii_p$cii_i" </dev/null
  printf '\n%s E %s %s\n' "$CII_M" "$cii_i" "$?"
  printf ' %s' "$cii_i" >&3
  cii_i=$((cii_i + 1))
done
"""

_DRIVER = r"""# cii_go FIRST END BYTES SECONDS: run parts FIRST..END-1 as one batch. Sets cii_d (the
# last part that finished, or empty), cii_s (the batch's exit status) and cii_ps (when
# the part that did not finish began; empty without a budget).
cii_go() {{
  {{ cii_r=$( {{ {{ if [ -n "$cii_t" ]; then
        timeout -k "$cii_k" "$4" sh -c "$cii_inner" cii "$1" "$2" {chunks} &
        cii_tp=$!; wait "$cii_tp"; cii_x=$?
        # timeout is its process group's leader: a tool that ignored its TERM outlives
        # it there, holding this pipe open; once it timed out, nothing there may stay
        case $cii_x in 124|137) kill -9 -"$cii_tp" 2>/dev/null ;; esac
      else sh -c "$cii_inner" cii "$1" "$2" {chunks}; cii_x=$?; fi
      printf ' x%s' "$cii_x" >&3; }} 2>/dev/null | head -c "$3" | cii_redact | cii_framed 2>&3 >&4
    }} 3>&1 ); }} 4>&1
  # the framed report comes when the output ends, before or after the exit status
  cii_f=
  case $cii_r in *" f"*)
    cii_f=${{cii_r##* f}}; cii_f=${{cii_f%% *}}; cii_r="${{cii_r%% f*}}${{cii_r##* f$cii_f}}" ;;
  esac
  cii_s=${{cii_r##*x}}; cii_r=${{cii_r% x*}}; cii_ps=
  case ${{cii_r##* }} in s*) cii_ps=${{cii_r##* s}}; cii_r=${{cii_r% s*}} ;; esac
  cii_d=${{cii_r##* }}
  # a part whose end frame the bound cut did not finish, whatever it reported
  case $cii_f in
    -) cii_d=; cii_ps= ;;
    ''|*[!0-9]*) ;;
    *) case $cii_d in ''|*[!0-9]*) ;; *)
         if [ "$cii_f" -lt "$cii_d" ]; then cii_d=$cii_f; cii_ps=; fi ;;
       esac ;;
  esac
}}
# cii_share: hold cii_to to half of what remains of the host budget, less the kill
# grace (cii_end, seconds since the epoch from date +%s; empty when there is no budget
# or no usable date, and then each part keeps its own fixed limit). Sets cii_sh when
# the share, not the part's own limit, is the deadline. Returns 1 when the budget is
# spent.
cii_share() {{
  cii_sh=
  [ -n "$cii_end" ] || return 0
  cii_n=$(date +%s 2>/dev/null)
  case $cii_n in ''|*[!0-9]*) return 0 ;; esac
  [ "$cii_n" -lt "$cii_end" ] || return 1
  cii_h=$(( (cii_end - cii_n) / 2 - cii_k ))
  [ "$cii_h" -ge 1 ] || cii_h=1
  if [ "$cii_to" -gt "$cii_h" ]; then cii_to=$cii_h; cii_sh=1; fi
  return 0
}}
cii_end=
cii_k=5
unset CII_TB
cii_b={budget}
if [ -n "$cii_b" ]; then
  cii_n=$(date +%s 2>/dev/null)
  case $cii_n in
    ''|*[!0-9]*) ;;
    *) cii_end=$((cii_n + cii_b)); cii_k=1; CII_TB=1; export CII_TB ;;
  esac
fi
# cii_run FIRST END: run parts FIRST..END-1, one lane's, batch by batch
cii_run() {{
cii_i=$1; cii_le=$2
while [ "$cii_i" -lt "$cii_le" ]; do
  cii_limits "$cii_i"
  if ! cii_share; then
    printf '\n%s S %s\n' "$CII_M" "$cii_i"
    cii_i=$((cii_i + 1)); continue
  fi
  cii_bt=$cii_to
  cii_go "$cii_i" "$cii_e" {batch_cap} "$cii_to"
  if [ "$cii_d" = "$((cii_e - 1))" ]; then cii_i=$cii_e; continue; fi
  if [ -n "$cii_d" ]; then cii_i=$((cii_d + 1)); fi
  # part $cii_i did not finish in the batch. Killed at its share of the budget after
  # running for half the batch's time or more: it had its time, it is not given more.
  # Else (its own limit, a flood cut the batch, or the parts before it used the time)
  # it runs again alone, within its own limits and its share of what remains.
  case $cii_sh$cii_s in 1124|1137)
    cii_n=$(date +%s 2>/dev/null)
    case $cii_n$cii_ps in *[!0-9]*) ;; *)
      if [ -n "$cii_ps" ] && [ $(( (cii_n - cii_ps) * 2 )) -ge "$cii_bt" ]; then
        printf '\n%s X %s %s\n' "$CII_M" "$cii_i" "$cii_s"
        cii_i=$((cii_i + 1)); continue
      fi ;;
    esac ;;
  esac
  cii_limits "$cii_i"
  if ! cii_share; then
    printf '\n%s S %s\n' "$CII_M" "$cii_i"
    cii_i=$((cii_i + 1)); continue
  fi
  cii_go "$cii_i" "$((cii_i + 1))" "$cii_c" "$cii_to"
  [ "$cii_d" = "$cii_i" ] || printf '\n%s X %s %s\n' "$CII_M" "$cii_i" "$cii_s"
  cii_i=$((cii_i + 1))
done
}}
cii_clock start
{lanes}
cii_clock end
printf '\n%s END\n' "$CII_M"
"""

# The lanes of parts, run at once: each lane after the first in a pipeline whose
# ``tail -c`` holds its output (in memory, up to what the lane's batches can print) until
# the lanes before it are through: the output stays whole frames, one lane after another,
# and nothing is written on the host. Without tail, the lanes run one after another.
_LANES = """if command -v tail >/dev/null 2>&1; then
  {pipeline}
else
  {sequence}
fi"""
