"""The sh that asks every SSH daemon on the host, and the one the next start will run.

sshd is its own best model, so the snippet asks it (OpenSSH 9.2p1 semantics, sshd.c
and servconf.c; the framing and keywords are the same through 9.9):

* **Which daemons.** Every ``sshd`` process whose parent is not an ``sshd`` (a
  listener, or an ``sshd -i`` started by inetd/systemd) is a context of its own; so is
  the on-disk configuration as the next start of the installed binary loads it. The
  daemon that serves an SSH scan is always one of the top-level ones (the collector
  descends from it: the snippet prints its ancestors), and a local scan sees every
  listener the same way. A daemon in another mount namespace (a container's) belongs
  to another system and is left to a scan of that system, unless it serves this
  scan, whose configuration is then out of sight (an error). A listener
  rewrites its argv into a process title (``sshd: /usr/sbin/sshd -D -o K v [listener]
  …``, sshd.c ``setproctitle``), so its options are read back from that title: the
  title is its argv joined by blanks, and since sshd refuses stray arguments ("Extra
  argument"), a word that is no option belongs to the argument before it (``-o
  "PermitRootLogin yes"``). Options are split as getopt does (clusters, attached
  arguments); only those that shape the configuration are passed on (``-f -o -h -c -p
  -g -u -4 -6``); ``-E`` (it would append to a log file) and the mode flags are dropped.
  The daemon's own executable (``/proc/PID/exe``, even when replaced on disk) answers
  for it, from its own working directory.
* **What it read, and when.** ``sshd -ddd -T`` logs each file it loads
  (``load_server_config: filename``) and each Match line (``checking syntax for
  'Match …'``): the consumer's own reading of Include and of the Match criteria. The
  mtime and ctime of those files and of their directories are printed with the daemon's
  start time (``/proc/PID/stat`` start ticks against ``/proc/uptime`` and the clock), so
  the parser can tell a daemon that has not reloaded since a change.
* **Every connection a Match block can select.** From each Match line, connection specs
  that select it (a value instantiated from each positive pattern; a member of a
  ``Group``) and that do not (each negated value), plus root and an ordinary account
  from an unknown address; each is put to ``sshd -T -C``. At most ``MAX_SPECS`` specs
  per context; beyond that the snippet says so and the parser reports an error.
"""

from __future__ import annotations

from scanner.probes._common import quote

MAX_SPECS = 48
UNKNOWN_HOST = "cii-unknown.invalid"
UNKNOWN_ADDR = "192.0.2.1"  # TEST-NET-1: an address no Match of a real site names
LOCAL_ADDR = "192.0.2.2"

# awk: Match criteria lines (stdin) -> connection specs, one a line.
_SPECS_AWK = r"""
function inst(p, kind) {
  gsub(/[*?]/, "x", p)
  if (kind == "addr") { sub(/\/.*/, "", p); gsub(/x/, "1", p) }
  if (kind == "port") { gsub(/x/, "1", p) }
  return p
}
function other(kind) {
  if (kind == "addr") return "198.51.100.7"
  if (kind == "port") return "1"
  return "cii-other"
}
function spec(u, g, h, a, la, lp, rd,   s) {
  s = "user=" u ",host=" h ",addr=" a ",laddr=" la ",lport=" lp
  if (rdom) s = s ",rdomain=" rd
  if (g != "") s = "group:" g " " s
  if (!(s in seen)) { seen[s] = 1; n++; out[n] = s }
}
function line_specs(   k, c, users, nu, ui, u, g, h, a, la, lp, rd, i) {
  nu = 0
  if (cn["user"] > 0) users[++nu] = cv["user", 1]
  else { users[++nu] = root; users[++nu] = plain }
  for (ui = 1; ui <= nu; ui++) {
    u = users[ui]
    g = (cn["group"] > 0 && cn["user"] == 0) ? cv["group", 1] : ""
    h = cn["host"] > 0 ? cv["host", 1] : H
    a = cn["address"] > 0 ? cv["address", 1] : A
    la = cn["localaddress"] > 0 ? cv["localaddress", 1] : LA
    lp = cn["localport"] > 0 ? cv["localport", 1] : port
    rd = cn["rdomain"] > 0 ? cv["rdomain", 1] : "default"
    spec(u, g, h, a, la, lp, rd)
    for (i = 2; i <= cn["user"]; i++) spec(cv["user", i], "", h, a, la, lp, rd)
    for (i = 2; i <= cn["group"]; i++) spec(u, cv["group", i], h, a, la, lp, rd)
    if (cn["group"] > 0) { spec(root, "", h, a, la, lp, rd); spec(plain, "", h, a, la, lp, rd) }
    for (i = 2; i <= cn["host"]; i++) spec(u, g, cv["host", i], a, la, lp, rd)
    for (i = 2; i <= cn["address"]; i++) spec(u, g, h, cv["address", i], la, lp, rd)
    for (i = 2; i <= cn["localaddress"]; i++) spec(u, g, h, a, cv["localaddress", i], lp, rd)
    for (i = 2; i <= cn["localport"]; i++) spec(u, g, h, a, la, cv["localport", i], rd)
    for (i = 2; i <= cn["rdomain"]; i++) spec(u, g, h, a, la, lp, cv["rdomain", i])
  }
}
{ crit[++nl] = $0; if (tolower($0) ~ /(^|[ \t])rdomain([ \t=]|$)/) rdom = 1 }
END {
  spec(root, "", H, A, LA, port, "default"); spec(plain, "", H, A, LA, port, "default")
  nx = split(uid0, xs, " "); for (i = 1; i <= nx; i++) spec(xs[i], "", H, A, LA, port, "default")
  for (l = 1; l <= nl; l++) {
    split("", cn); split("", cv)
    nt = split(crit[l], t, /[ \t\r=]+/)
    for (i = 1; i <= nt; i++) {
      k = tolower(t[i]); if (k == "" || k == "all") continue
      v = (i < nt) ? t[++i] : ""
      kind = (k == "address" || k == "localaddress") ? "addr" : (k == "localport" ? "port" : "name")
      np = split(v, pats, ","); c = 0; nneg = 0
      for (j = 1; j <= np; j++) {
        p = pats[j]; gsub(/"/, "", p); if (p == "" || substr(p, 1, 1) == "!") continue
        cv[k, ++c] = inst(p, kind)
      }
      if (c == 0) cv[k, ++c] = other(kind)
      for (j = 1; j <= np; j++) {
        p = pats[j]; gsub(/"/, "", p); if (substr(p, 1, 1) != "!") continue
        cv[k, ++c] = inst(substr(p, 2), kind)
      }
      cn[k] = c
    }
    line_specs()
  }
  if (n > max) { print "cii:too-many " n; n = max }
  for (i = 1; i <= n; i++) print out[i]
}
"""

# sh functions and the main flow. $CII_M frames sections as _sections.section does.
_BODY = r"""
cii_sec() { printf '%s F cii:sshd/%s\n' "$CII_M" "$1"; }
cii_rc() { printf '\ncii:rc %s\n' "$1"; }
cii_q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
# cii_is_sshd PID: its name is sshd, or its executable's is (a link of another name).
# The executables were asked of every process at once by find (cii_xs, of the processes
# in cii_xseen) where find has -lname; a process started since, or every one where find
# cannot, is asked by a readlink of its own.
cii_is_sshd() {
  cii_c=; { read -r cii_c < "/proc/$1/comm"; } 2>/dev/null
  [ "$cii_c" = sshd ] && return 0
  case "$cii_xseen" in *" $1 "*)
    case "$cii_xs" in *" $1 "*) return 0;; esac
    return 1;;
  esac
  cii_e=$(readlink "/proc/$1/exe" 2>/dev/null)
  case "${cii_e##*/}" in sshd|'sshd (deleted)') return 0;; esac
  return 1
}
# cii_ppid PID: sets cii_pp to its parent's pid (empty when it is gone), read by the shell
cii_ppid() {
  cii_pp=
  { while read -r cii_k cii_v; do
      if [ "$cii_k" = PPid: ]; then cii_pp=$cii_v; break; fi
    done < "/proc/$1/status"; } 2>/dev/null
}
cii_now() {
  cii_t=$(date +%s.%N 2>/dev/null)
  case "$cii_t" in *N*|'') cii_t=$(date +%s); esac
  printf '%s\n' "$cii_t"
}
cii_start() {
  cii_ticks=$(awk '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); print f[20] }' \
    "/proc/$1/stat" 2>/dev/null)
  cii_hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
  cii_up=; { read -r cii_up cii_idle < /proc/uptime; } 2>/dev/null
  awk -v n="$(cii_now)" -v u="$cii_up" -v t="$cii_ticks" -v hz="$cii_hz" \
    'BEGIN { if (t == "" || u == "") exit; printf "%.3f\n", n - u + t / hz }'
}
# getopt over the words of a daemon's argv (after argv[0]); sets cii_o (quoted words)
cii_opts() {
  cii_o=; cii_bad=; cii_need=; cii_cur=; cii_curopt=
  for cii_w in "$@"; do
    if [ -n "$cii_need" ]; then cii_curopt=$cii_need; cii_cur=$cii_w; cii_need=; continue; fi
    case "$cii_w" in
    -?*) cii_flush
      cii_r=${cii_w#-}
      while [ -n "$cii_r" ]; do
        cii_ch=${cii_r%"${cii_r#?}"}; cii_r=${cii_r#?}
        case "$cii_ch" in
        [CEbcfghkopu]) if [ -n "$cii_r" ]; then cii_curopt=$cii_ch; cii_cur=$cii_r; cii_r=
          else cii_need=$cii_ch; fi;;
        4|6) cii_o="$cii_o -$cii_ch";;
        [DGQRTdeiqrtV]) ;;
        *) cii_bad="unknown option -$cii_ch";;
        esac
      done;;
    *) if [ -n "$cii_curopt" ]; then cii_cur="$cii_cur $cii_w"
       else cii_bad="stray argument $cii_w"; fi;;
    esac
  done
  cii_flush
  [ -z "$cii_need" ] || cii_bad="option -$cii_need without its argument"
}
cii_flush() {
  case "$cii_curopt" in
  [cfghopu]) cii_o="$cii_o -$cii_curopt $(cii_q "$cii_cur")";;
  esac
  cii_curopt=; cii_cur=
}
# one context: $1 id, $2 binary, $3 directory to run in, $4 quoted options, $5 start time
cii_ctx() {
  cii_id=$1; cii_bin=$2; cii_dir=$3; cii_opt=$4; cii_st=$5
  cii_scan=$( { (cd "$cii_dir" && eval "set -- $cii_opt" && "$cii_bin" "$@" -ddd -T -C \
    "user=root,host=__HOST__,addr=__ADDR__,laddr=__LADDR__,lport=22,rdomain=default" 2>&1)
    printf 'cii:exit %s\n' "$?"; } | sed 's/\r$//' | head -c 4194304)
  cii_x=${cii_scan##*cii:exit }
  cii_sec "scan $cii_id"
  printf '%s\n' "$cii_scan" | grep -v '^[a-z0-9]* '
  cii_rc "$cii_x"
  if [ -n "$cii_st" ]; then
    cii_sec "files $cii_id"
    printf 'start %s\n' "$cii_st"
    # each file sshd loaded, and the directory of each Include pattern (an entry added
    # or removed there changes what a reload would read; other directories do not matter)
    printf '%s\n' "$cii_scan" | sed -n -e 's/^debug2: load_server_config: filename /f /p' \
      -e 's/^debug2: .* line [0-9]*: new include \(.*\)$/i \1/p' |
    while IFS= read -r cii_f; do
      case "$cii_f" in
      'f '*) (cd "$cii_dir" && stat -L -c 'file %.9Y %.9Z %n' -- "${cii_f#f }") 2>&1;;
      *) cii_dn=$(dirname -- "${cii_f#i }")
        case "$cii_dn" in
        *[*?[]*) printf 'stat: cannot watch the directories of %s\n' "${cii_f#i }";;
        *) (cd "$cii_dir" && { stat -L -c 'file %.9Y %.9Y %n' -- "$cii_dn" 2>/dev/null ||
             printf 'file 0 0 %s\n' "$cii_dn"; });;
        esac;;
      esac
    done
    cii_rc 0
  fi
  cii_port=$(printf '%s\n' "$cii_scan" | awk '$1 == "port" { print $2; exit }')
  # the host keys this daemon loads (HostKey is not allowed in Match): their metadata,
  # following links as sshd's open does; never their content
  cii_sec "hostkeys $cii_id"
  printf '%s\n' "$cii_scan" | awk '$1 == "hostkey" { sub(/^hostkey /, ""); print }' |
  while IFS= read -r cii_k; do
    if (cd "$cii_dir" && [ -e "$cii_k" ]); then
      (cd "$cii_dir" && stat -L -c 'stat %a %u %g %U %G %s %n' -- "$cii_k") 2>&1
    else printf 'missing %s\n' "$cii_k"; fi
  done
  cii_rc 0
  printf '%s\n' "$cii_scan" |
  sed -n "s/^debug3: checking syntax for 'Match \(.*\)'\$/\1/p" |
  awk -v root=root -v plain="$cii_plain" -v uid0="$cii_uid0" -v H=__HOST__ -v A=__ADDR__ \
    -v LA=__LADDR__ -v port="${cii_port:-22}" -v max=__MAX__ "$cii_awk" |
  while IFS= read -r cii_s; do
    case "$cii_s" in
    cii:too-many*) cii_sec "specs $cii_id"; printf '%s\n' "$cii_s"; cii_rc 0; continue;;
    group:*) cii_g=${cii_s%% *}; cii_g=${cii_g#group:}; cii_s=${cii_s#* }
      cii_m=$(getent group -- "$cii_g" 2>/dev/null | cut -d: -f4 | cut -d, -f1)
      if [ -z "$cii_m" ]; then
        cii_gid=$(getent group -- "$cii_g" 2>/dev/null | cut -d: -f3)
        [ -n "$cii_gid" ] &&
          cii_m=$(head -c 4194304 -- /etc/passwd | awk -F: -v g="$cii_gid" \
            '$4 == g { print $1; exit }')
      fi
      cii_s="user=${cii_m:-cii-nomember},${cii_s#user=*,}";;
    esac
    cii_sec "T $cii_id $cii_s"
    (cd "$cii_dir" && eval "set -- $cii_opt" && "$cii_bin" "$@" -T -C "$cii_s" 2>&1)
    cii_rc "$?"
  done
}
# /etc/passwd through its bounded copy (TOOL_READ_CAP); over the cap, a CUT line makes
# the probe error: the accounts Match blocks are asked for would be guesses
cii_z=$(stat -L -c %s -- /etc/passwd 2>/dev/null)
[ "${cii_z:-0}" -le 4194304 ] || printf '\n%s CUT %s %s %s\n' "$CII_M" 4194304 "$cii_z" /etc/passwd
cii_plain=$(head -c 4194304 -- /etc/passwd 2>/dev/null |
  awk -F: '$3 >= 1000 && $3 < 60000 && $7 !~ /(nologin|false)$/ { print $1; exit }')
[ -n "$cii_plain" ] || cii_plain=cii-user
cii_uid0=$(head -c 4194304 -- /etc/passwd 2>/dev/null |
  awk -F: '$3 == 0 && $1 != "root" && $1 ~ /^[A-Za-z0-9_.-]+$/ { printf "%s ", $1 }')
cii_self_mnt=$(readlink /proc/self/ns/mnt 2>/dev/null)
cii_bin=
for cii_b in "$(command -v sshd 2>/dev/null)" /usr/sbin/sshd /usr/local/sbin/sshd /sbin/sshd \
    /usr/bin/sshd /opt/openssh/sbin/sshd; do
  case "$cii_b" in /*) [ -x "$cii_b" ] && [ -f "$cii_b" ] && { cii_bin=$cii_b; break; };; esac
done
cii_xs=; cii_xseen=
if find /proc/self/exe -maxdepth 0 -lname '*' >/dev/null 2>&1; then
  set -- /proc/[0-9]*/exe
  cii_xseen=" $(printf '%s\n' "$@" | sed 's,^/proc/,,; s,/exe$,,' | tr '\n' ' ')"
  cii_xs=" $(find "$@" -maxdepth 0 \( -lname '*/sshd' -o -lname '*/sshd (deleted)' \) \
    2>/dev/null | sed 's,^/proc/,,; s,/exe$,,' | tr '\n' ' ')"
fi
cii_sec procs
cii_a=$$
while [ -n "$cii_a" ] && [ "$cii_a" != 0 ] && [ "$cii_a" != 1 ]; do
  printf 'ancestor %s\n' "$cii_a"; cii_ppid "$cii_a"; cii_a=$cii_pp
done
cii_tops=
for cii_d in /proc/[0-9]*; do
  cii_p=${cii_d#/proc/}
  [ "$cii_p" = "$$" ] && continue
  cii_is_sshd "$cii_p" || continue
  cii_ppid "$cii_p"
  [ -n "$cii_pp" ] && [ "$cii_pp" != 0 ] && cii_is_sshd "$cii_pp" && continue
  printf 'top %s %s\n' "$cii_p" "$(readlink "$cii_d/exe" 2>/dev/null)"
  cii_tops="$cii_tops $cii_p"
done
printf 'bin %s\n' "$cii_bin"
printf 'uid0 %s\n' root $cii_uid0
cii_rc 0
[ -n "$cii_bin$cii_tops" ] || exit 0
for cii_p in $cii_tops; do
  cii_d=/proc/$cii_p
  cii_sec "proc $cii_p"
  cii_mnt=$(readlink "$cii_d/ns/mnt" 2>/dev/null)
  if [ -z "$cii_mnt" ]; then echo 'gone'; cii_rc 0; continue; fi
  if [ "$cii_mnt" != "$cii_self_mnt" ]; then echo 'mnt other'; cii_rc 0; continue; fi
  cii_args=$(tr '\0' '\n' < "$cii_d/cmdline" 2>/dev/null)
  cii_n=$(printf '%s\n' "$cii_args" | grep -c .)
  cii_st=$(cii_start "$cii_p")
  printf 'start %s\n' "$cii_st"
  printf 'exe %s\n' "$(readlink "$cii_d/exe" 2>/dev/null)"
  set -f
  case "$cii_args" in
  'sshd: '*'[listener]'*)
    cii_t=${cii_args#sshd: }; cii_t=${cii_t%%' [listener]'*}
    printf 'title %s\n' "$cii_t"
    IFS=' '; set -- $cii_t; unset IFS;;
  'sshd: '*) printf 'title %s\n' "$cii_args"
    echo 'unknown its options are hidden by its process title'
    set +f; cii_rc 0; continue;;
  *) printf '%s\n' "$cii_args" | sed 's/^/arg /'
    IFS='
'; set -- $cii_args; unset IFS;;
  esac
  set +f
  [ "$#" -gt 0 ] && shift
  cii_opts "$@"
  if [ -n "$cii_bad" ]; then printf 'unknown %s\n' "$cii_bad"; cii_rc 0; continue; fi
  printf 'opts %s\n' "$cii_o"
  cii_rc 0
  cii_ctx "pid$cii_p" "$cii_d/exe" "$cii_d/cwd" "$cii_o" "$cii_st"
done
if [ -n "$cii_bin" ]; then
  cii_ctx disk "$cii_bin" / "" ""
fi
"""


def snippet(connection: str | None) -> str:
    """The probe's sh; with ``connection``, only that ``-C`` spec is asked per context."""
    body = (_BODY.replace("__HOST__", UNKNOWN_HOST).replace("__ADDR__", UNKNOWN_ADDR)
            .replace("__LADDR__", LOCAL_ADDR).replace("__MAX__", str(MAX_SPECS))
            )
    awk = _SPECS_AWK
    if connection:
        awk = "END { print " + quote_awk(connection) + " }"
    return f"cii_awk={quote(awk)}\n{body}"


def quote_awk(text: str) -> str:
    """An awk string literal for ``text`` (a schema-checked connection spec)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


ABSENT_MARK = "cii:sshd-absent"
