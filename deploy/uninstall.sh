#!/usr/bin/env bash
# Remove Vigil from a gateway (deploy/DEPLOY.md). Idempotent: running it again does nothing.
#
# Usage: deploy/uninstall.sh [options]
#   --root DIR     remove from DIR as installed by install.sh --root DIR
#   --prefix DIR   the prefix given to install.sh (default /usr/local)
#   --purge        also delete the configuration (/etc/vigil), the outbox, detector state and model
#                  (/var/lib/vigil), the broker settings install.sh --with-broker added, and the
#                  vigil account. Without it, those stay, so a reinstall carries on where it left off.
#   -h, --help     this text
#
# Without --purge, events still waiting in the outbox (/var/lib/vigil/outbox.db) are kept and are
# sent when Vigil is installed again. With --purge they are lost: check the outbox depth first
# (vigil_outbox_depth on the metrics endpoint, or "outbox" in the status message).
set -euo pipefail

say() { printf 'uninstall: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

root=""
prefix="/usr/local"
purge=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --root) [[ $# -ge 2 ]] || die "--root needs a directory"; root=$2; shift 2 ;;
    --root=*) root=${1#*=}; shift ;;
    --prefix) [[ $# -ge 2 ]] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option '$1'; see --help" ;;
  esac
done
[[ "$prefix" == /* ]] || die "--prefix must be an absolute path, got '$prefix'"
prefix=${prefix%/}
if [[ -n "$root" ]]; then
  [[ -d "$root" ]] || { say "nothing to do: $root does not exist"; exit 0; }
  root=$(cd "$root" && pwd)
  [[ "$root" != "/" ]] || root=""
fi
if [[ -z "$root" && "$(id -u)" -ne 0 ]]; then
  die "removing from / needs root (sudo $0 ...), or use --root DIR"
fi

removed() { [[ -e "$1" || -L "$1" ]] && rm -rf -- "$1" && say "removed ${1#"$root"}"; return 0; }

# 1. Stop the service first, so nothing writes to the outbox while it goes.
if [[ -z "$root" && -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
  if systemctl list-unit-files vigil.service >/dev/null 2>&1; then
    systemctl disable --now vigil.service >/dev/null 2>&1 || true
  fi
fi
removed "$root/etc/systemd/system/vigil.service"
removed "$root/etc/systemd/system/vigil.service.d"
if [[ -z "$root" && -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload
  systemctl reset-failed vigil.service >/dev/null 2>&1 || true
fi

# 2. The program and its shared files.
removed "$root$prefix/bin/vigil"
removed "$root$prefix/bin/vigil.previous"
removed "$root$prefix/share/vigil"
removed "$root$prefix/share/doc/vigil"

# 3. Data, configuration and the account: only with --purge.
if [[ $purge -eq 1 ]]; then
  removed "$root/var/lib/vigil"
  removed "$root/var/lib/private/vigil"  # if the unit was ever switched to DynamicUser=
  removed "$root/etc/vigil"
  for f in "$root/etc/mosquitto/conf.d/vigil.conf" "$root/etc/mosquitto/conf.d/vigil.conf.new" \
           "$root/etc/mosquitto/vigil.acl" "$root/etc/mosquitto/vigil.acl.new"; do
    removed "$f"
  done
  if [[ -f "$root/etc/mosquitto/vigil.passwd" ]]; then
    say "kept the broker's password file /etc/mosquitto/vigil.passwd (other clients may use it)"
  fi
  if [[ "$(id -u)" -eq 0 && -f "$root/etc/passwd" ]] && grep -q '^vigil:' "$root/etc/passwd" \
     && command -v userdel >/dev/null 2>&1; then
    if [[ -z "$root" ]]; then userdel vigil; else userdel --root "$root" vigil; fi
    say "removed the account vigil"
  fi
else
  for kept in /etc/vigil /var/lib/vigil; do
    [[ -e "$root$kept" ]] && say "kept $kept (configuration, outbox and detector state; --purge removes it)"
  done
fi
say "done${root:+ (in $root)}"
