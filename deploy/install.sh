#!/usr/bin/env bash
# Install or upgrade Vigil on a Debian gateway (deploy/DEPLOY.md). Idempotent: running it again
# with the same files changes nothing; with a new binary it is an upgrade.
#
# Usage: deploy/install.sh [options]
#   --binary FILE      the vigil executable to install (default: .build/release/vigil, built with
#                      swift build -c release --product vigil --static-swift-stdlib)
#   --root DIR         install into DIR as if it were / (an image or a chroot being prepared); no
#                      service is started, and the account is made only if DIR has an /etc/passwd
#   --prefix DIR       where the binary and shared files go (default /usr/local: bin/vigil,
#                      share/vigil/, share/doc/vigil/)
#   --model-file FILE  take the model from FILE (offline gateways) instead of downloading it
#   --no-model         do not provision the model (alerts then use template text)
#   --with-broker      also install deploy/mosquitto/vigil.conf and vigil.acl into /etc/mosquitto
#   --no-start         install and enable, but do not start or restart the service
#   -h, --help         this text
#
# What goes where (under DIR with --root):
#   PREFIX/bin/vigil                 the agent (the one it replaces is kept as vigil.previous)
#   /etc/vigil/vigil.yaml            configuration; an edited one is NEVER overwritten: the new
#   /etc/vigil/plant.yaml            example goes beside it as vigil.yaml.new (plant.yaml.new)
#   /var/lib/vigil/                  outbox and detector state (kept by uninstall without --purge)
#   /var/lib/vigil/models/           the language model (deploy/provision-model.sh, SHA-256 checked)
#   /var/lib/vigil/models/bundles/   the signed model bundles (vigil model list); the default one
#                                    is installed and made current
#   /etc/systemd/system/vigil.service
#   PREFIX/share/vigil/              dashboards, broker examples, example configuration
#   PREFIX/share/doc/vigil/DEPLOY.md this guide
set -euo pipefail

say() { printf 'install: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

binary="$repo/.build/release/vigil"
root=""
prefix="/usr/local"
model_file=""
provision_model=1
with_broker=0
start=1

while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) [[ $# -ge 2 ]] || die "--binary needs a file"; binary=$2; shift 2 ;;
    --binary=*) binary=${1#*=}; shift ;;
    --root) [[ $# -ge 2 ]] || die "--root needs a directory"; root=$2; shift 2 ;;
    --root=*) root=${1#*=}; shift ;;
    --prefix) [[ $# -ge 2 ]] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --model-file) [[ $# -ge 2 ]] || die "--model-file needs a file"; model_file=$2; shift 2 ;;
    --model-file=*) model_file=${1#*=}; shift ;;
    --no-model) provision_model=0; shift ;;
    --with-broker) with_broker=1; shift ;;
    --no-start) start=0; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option '$1'; see --help" ;;
  esac
done

[[ "$prefix" == /* ]] || die "--prefix must be an absolute path, got '$prefix'"
prefix=${prefix%/}
if [[ -n "$root" ]]; then
  mkdir -p -- "$root"
  root=$(cd "$root" && pwd)
  [[ "$root" != "/" ]] || root=""
fi
[[ -f "$binary" && -x "$binary" ]] \
  || die "no executable at $binary; build it with: swift build -c release --product vigil --static-swift-stdlib (or pass --binary FILE)"
[[ -z "$model_file" || -f "$model_file" ]] || die "--model-file: no file at $model_file"

is_root=0
[[ "$(id -u)" -eq 0 ]] && is_root=1
if [[ -z "$root" && $is_root -eq 0 ]]; then
  die "installing into / needs root (sudo $0 ...), or use --root DIR for a directory tree"
fi
live_systemd=0
[[ -z "$root" && -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1 && live_systemd=1

bin_dir="$root$prefix/bin"
share_dir="$root$prefix/share/vigil"
doc_dir="$root$prefix/share/doc/vigil"
etc_dir="$root/etc/vigil"
state_dir="$root/var/lib/vigil"
unit_dir="$root/etc/systemd/system"

# Copies SRC to DEST with MODE through a temporary file and a rename (a running binary keeps its
# old inode); prints nothing and changes nothing when DEST already has the same content.
put() {
  local mode=$1 src=$2 dest=$3
  if [[ -f "$dest" ]] && cmp -s -- "$src" "$dest"; then
    chmod "$mode" -- "$dest"
    return 1
  fi
  mkdir -p -- "$(dirname "$dest")"
  local tmp
  tmp=$(mktemp "$(dirname "$dest")/.$(basename "$dest").XXXXXX")
  cp -- "$src" "$tmp"
  chmod "$mode" -- "$tmp"
  mv -f -- "$tmp" "$dest"
  return 0
}

# A configuration file: installed when missing; when the installed one differs (edited by the
# operator, or from an older release) it stays, and the new one goes beside it as FILE.new.
put_config() {
  local src=$1 dest=$2 mode=${3:-0640}
  if [[ ! -e "$dest" ]]; then
    put "$mode" "$src" "$dest" || true
    say "installed ${dest#"$root"}"
  elif cmp -s -- "$src" "$dest"; then
    rm -f -- "$dest.new"
  else
    put "$mode" "$src" "$dest.new" || true
    say "kept your ${dest#"$root"}; the example of this release is ${dest#"$root"}.new (compare: diff -u ${dest#"$root"} ${dest#"$root"}.new)"
  fi
}

# 1. The account the service runs as (also the broker user in the ACL example).
have_user=0
if [[ $is_root -eq 1 ]]; then
  if [[ -z "$root" ]]; then
    if ! getent passwd vigil >/dev/null; then
      useradd --system --user-group --home-dir /var/lib/vigil --no-create-home \
        --shell /usr/sbin/nologin --comment "Vigil edge agent" vigil
      say "created the system account vigil"
    fi
    have_user=1
  elif [[ -f "$root/etc/passwd" ]] && command -v useradd >/dev/null 2>&1; then
    if ! grep -q '^vigil:' "$root/etc/passwd"; then
      useradd --root "$root" --system --user-group --home-dir /var/lib/vigil --no-create-home \
        --shell /usr/sbin/nologin --comment "Vigil edge agent" vigil
      say "created the system account vigil in $root"
    fi
    have_user=1
  fi
fi
# owner USER:GROUP [chown options] PATH...: chown where the account exists in the target tree,
# with the ids from that tree's own passwd and group files.
owner() {
  [[ $have_user -eq 1 ]] || return 0
  local spec=$1; shift
  local uid gid
  uid=$(awk -F: -v u="${spec%%:*}" '$1 == u { print $3 }' "$root/etc/passwd")
  gid=$(awk -F: -v g="${spec#*:}" '$1 == g { print $3 }' "$root/etc/group")
  [[ -n "$uid" && -n "$gid" ]] || die "no account ${spec} in $root/etc/passwd"
  chown "$uid:$gid" "$@"
}

# 2. The binary: check the new one runs here, keep the one it replaces for a rollback.
if ! "$binary" --help >/dev/null 2>&1; then
  [[ -n "$root" ]] || die "$binary does not run on this machine (ldd $binary shows what it needs)"
  say "warning: $binary does not run on this machine (another architecture?); installing it anyway into $root"
fi
new_binary=0
if [[ -f "$bin_dir/vigil" ]] && ! cmp -s -- "$binary" "$bin_dir/vigil"; then
  cp -p -- "$bin_dir/vigil" "$bin_dir/vigil.previous"
  say "kept the previous binary as $prefix/bin/vigil.previous"
fi
if put 0755 "$binary" "$bin_dir/vigil"; then
  new_binary=1
  say "installed $prefix/bin/vigil"
fi

# 3. Configuration, catalog (never overwriting edited ones) and the state folder.
mkdir -p -- "$etc_dir" "$state_dir"
chmod 0750 -- "$etc_dir" "$state_dir"
owner root:vigil "$etc_dir"
owner vigil:vigil "$state_dir"
put_config "$here/vigil.example.yaml" "$etc_dir/vigil.yaml"
put_config "$repo/sensors/plant.yaml" "$etc_dir/plant.yaml"
for f in "$etc_dir"/vigil.yaml "$etc_dir"/plant.yaml "$etc_dir"/*.new; do
  if [[ -f "$f" ]]; then owner root:vigil "$f"; fi
done

# 4. The model (downloaded or copied, then SHA-256 checked by provision-model.sh).
if [[ $provision_model -eq 1 ]]; then
  models="$state_dir/models"
  mkdir -p -- "$models"
  if [[ -n "$model_file" ]]; then
    target="$models/$(basename "$model_file")"
    put 0644 "$model_file" "$target" || true
  fi
  "$here/provision-model.sh" "$models" || die "the model could not be provisioned; run again with --model-file FILE or --no-model"
  # The default signed bundle (deploy/bundles/smollm2-narration, key deploy/keys/vigil-default.pub):
  # the model is hard-linked into the bundle store, checked against its signature, self-tested and
  # made current, unless it already is.
  bundle_id=$(awk -F'"' '/"name"/ { n = $4 } /"version"/ { v = $4 } END { print n "-" v }' "$here/bundles/smollm2-narration/manifest.json")
  if [[ "$(cat "$models/bundles/current" 2>/dev/null)" != "$bundle_id" ]]; then
    assembled=$(mktemp -d "$models/.bundle.XXXXXX")
    "$here/default-bundle.sh" assemble "$models/SmolLM2-135M-Instruct.Q4_1.gguf" "$assembled"
    if "$binary" model install --store "$models/bundles" --trusted-key "$here/keys/vigil-default.pub" "$assembled" >&2; then
      say "installed the signed model bundle $bundle_id in ${models#"$root"}/bundles"
    else
      say "warning: the model bundle $bundle_id was not made current (see above): alerts will use template text"
    fi
    rm -rf -- "$assembled"
  fi
  owner vigil:vigil -R "$models"
else
  say "no model provisioned (--no-model): alerts will carry template text until one is in $state_dir/models"
fi

# 5. Shared files: dashboards, broker examples, example configuration, and the guide.
for f in "$here"/dashboards/*; do put 0644 "$f" "$share_dir/dashboards/$(basename "$f")" || true; done
for f in "$here"/mosquitto/*; do put 0644 "$f" "$share_dir/mosquitto/$(basename "$f")" || true; done
put 0644 "$here/vigil.example.yaml" "$share_dir/vigil.example.yaml" || true
put 0644 "$repo/sensors/plant.yaml" "$share_dir/plant.example.yaml" || true
put 0644 "$here/DEPLOY.md" "$doc_dir/DEPLOY.md" || true

# 6. The systemd unit, pointing at this prefix.
unit_tmp=$(mktemp)
trap 'rm -f -- "$unit_tmp"' EXIT
sed -e "s#/usr/local/bin/vigil#$prefix/bin/vigil#g" \
    -e "s#/usr/local/share/doc/vigil#$prefix/share/doc/vigil#g" "$here/vigil.service" >"$unit_tmp"
new_unit=0
if put 0644 "$unit_tmp" "$unit_dir/vigil.service"; then
  new_unit=1
  say "installed /etc/systemd/system/vigil.service"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify checks that ExecStart= exists; under --root, check a copy that names the tree's binary.
  verify_dir=$(mktemp -d)
  sed -e "s#^ExecStart=$prefix/bin/vigil#ExecStart=$bin_dir/vigil#" "$unit_dir/vigil.service" >"$verify_dir/vigil.service"
  systemd-analyze verify "$verify_dir/vigil.service" \
    || say "warning: systemd-analyze verify reported problems with the unit (above)"
  rm -rf -- "$verify_dir"
fi

# 7. The local broker's settings (optional).
if [[ $with_broker -eq 1 ]]; then
  mdir="$root/etc/mosquitto"
  mkdir -p -- "$mdir/conf.d"
  # No secrets in these two; mosquitto reads them after dropping to its own user.
  put_config "$here/mosquitto/vigil.conf" "$mdir/conf.d/vigil.conf" 0644
  put_config "$here/mosquitto/vigil.acl" "$mdir/vigil.acl" 0644
  [[ -f "$mdir/vigil.passwd" ]] \
    || say "create the broker users: sudo mosquitto_passwd -c /etc/mosquitto/vigil.passwd vigil (see $prefix/share/vigil/mosquitto/vigil.acl)"
fi

# 8. Check the configuration with the new binary, then (re)start the service.
if [[ -z "$root" ]]; then
  if ! "$bin_dir/vigil" check-config "$etc_dir/vigil.yaml"; then
    if [[ -f "$bin_dir/vigil.previous" && $new_binary -eq 1 ]]; then
      say "the installed configuration does not load with the new binary (above); fix /etc/vigil/vigil.yaml"
      say "(compare with vigil.yaml.new), or roll back: sudo mv $prefix/bin/vigil.previous $prefix/bin/vigil"
    fi
    start=0
    say "not starting the service until the configuration loads: vigil check-config /etc/vigil/vigil.yaml"
  fi
fi
if [[ $live_systemd -eq 1 ]]; then
  systemctl daemon-reload
  systemctl enable vigil.service >/dev/null 2>&1 || systemctl enable vigil.service
  if [[ $start -eq 1 ]]; then
    if systemctl is-active --quiet vigil.service; then
      if [[ $new_binary -eq 1 || $new_unit -eq 1 ]]; then
        systemctl restart vigil.service
        say "restarted vigil (the outbox and detector state in /var/lib/vigil carry over)"
      fi
    else
      systemctl start vigil.service
      say "started vigil: systemctl status vigil; journalctl -u vigil -f"
    fi
  fi
elif [[ -z "$root" ]]; then
  say "systemd is not running here: start the agent with $prefix/bin/vigil run --config /etc/vigil/vigil.yaml"
fi
say "done${root:+ (into $root)}"
