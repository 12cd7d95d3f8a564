#!/usr/bin/env bash
# Install or upgrade moodsense-edge as an appliance on Raspberry Pi OS (64-bit) / Debian.
# Run as root from the checkout (or unpacked release) to install; re-running is an upgrade.
#
#   sudo scripts/install.sh [--mqtt-password-file FILE] [--release NAME] [--no-start]
#   sudo scripts/install.sh --rollback      switch back to the release before the current one
#
# Layout (docs/appliance.md):
#   /opt/moodsense-edge -> moodsense-edge-releases/NAME    the running release (symlink)
#   /opt/moodsense-edge.previous -> ...                    kept for --rollback
#   /opt/moodsense-edge-releases/NAME/{...,.venv}          one source tree + venv per release
#   /etc/moodsense/edge.yaml, /etc/moodsense/credentials/  config and secrets, never overwritten
#   /var/lib/moodsense/                                     state (outbox, ledger, calibration)
#   /var/lib/moodsense-models/{current,previous,sets/}     verified model sets
#
# Options for testing and development:
#   --root DIR         stage everything under DIR (like DESTDIR); creating the user, chown and
#                      systemctl are skipped and reported, nothing outside DIR is changed
#   --venv-from PATH   symlink an existing venv instead of building one with scripts/setup.sh
set -euo pipefail
shopt -s nullglob

SERVICE=moodsense-edge
SERVICE_USER=moodsense
SOURCE="$(cd "$(dirname "$0")/.." && pwd)"

root="" release="" venv_from="" password_file="" rollback=0 start=1
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit "${1:-0}"; }
while (( $# )); do
    case "$1" in
        --root) root="$(realpath -m "${2:?--root needs a directory}")"; shift ;;
        --release) release="${2:?--release needs a name}"; shift ;;
        --venv-from) venv_from="$(realpath "${2:?--venv-from needs a path}")"; shift ;;
        --mqtt-password-file) password_file="${2:?--mqtt-password-file needs a file}"; shift ;;
        --rollback) rollback=1 ;;
        --no-start) start=0 ;;
        -h|--help) usage 0 ;;
        *) echo "install: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [[ "$root" == / ]]; then
    echo "install: --root / is this machine: leave --root out" >&2
    exit 2
fi

OPT="$root/opt"
CURRENT_LINK="$OPT/$SERVICE"
PREVIOUS_LINK="$OPT/$SERVICE.previous"
RELEASES="$OPT/$SERVICE-releases"
ETC="$root/etc/moodsense"
CREDENTIALS="$ETC/credentials"
CONFIG="$ETC/edge.yaml"
UNIT="$root/etc/systemd/system/$SERVICE.service"
STATE="$root/var/lib/moodsense"
MODELS="$root/var/lib/moodsense-models"
# What the unit sets, so the config check and doctor see what the service sees.
export MPLCONFIGDIR="$STATE/cache/matplotlib"

say() { echo "install: $*"; }
skipped() { say "skipped (--root): $*"; }
staged() { [[ -n "$root" ]]; }
systemd_running() { ! staged && [[ -d /run/systemd/system ]]; }

if ! staged && [[ $(id -u) -ne 0 ]]; then
    echo "install: run as root (or stage with --root DIR)" >&2
    exit 1
fi

# Atomic switch: rename(2) of a new symlink over the old one; readers see old or new.
point() {  # point LINK TARGET
    ln -sfn "$2" "$1.new"
    mv -Tf "$1.new" "$1"
}

in_git() {  # the source is a git checkout of its own (not a folder inside another repo)
    [[ "$(git -c safe.directory="$SOURCE" -C "$SOURCE" rev-parse --show-toplevel 2>/dev/null)" \
        == "$SOURCE" ]]
}

release_of() {  # the release directory a link points at, or nothing
    if [[ -L "$1" ]]; then realpath -m "$1"; fi
}

ensure_user() {
    if staged; then
        skipped "system user $SERVICE_USER (groups audio, video)"
        return
    fi
    getent group audio >/dev/null || groupadd --system audio
    getent group video >/dev/null || groupadd --system video
    if ! id "$SERVICE_USER" >/dev/null 2>&1; then
        useradd --system --user-group --home-dir /var/lib/moodsense --no-create-home \
            --shell /usr/sbin/nologin --comment "moodsense-edge service" "$SERVICE_USER"
        say "created system user $SERVICE_USER"
    fi
    usermod --append --groups audio,video "$SERVICE_USER"
}

own_state() {  # the service writes its state; the installer ran as root in there
    if staged; then
        skipped "chown -R $SERVICE_USER:$SERVICE_USER $STATE"
    else
        chown -R "$SERVICE_USER:$SERVICE_USER" "$STATE"
    fi
}

make_directories() {
    mkdir -p "$OPT" "$(dirname "$UNIT")"
    install -d -m 0755 "$RELEASES" "$ETC" "$MODELS"
    install -d -m 0700 "$CREDENTIALS"
    install -d -m 0750 "$STATE" "$STATE/cache" "$MPLCONFIGDIR"
    own_state
}

write_default_config() {
    if [[ -e "$CONFIG" ]]; then
        say "kept existing $CONFIG"
        return
    fi
    local device
    device="$(hostname -s 2>/dev/null || true)"
    [[ "$device" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || device=kiosk-1
    cat > "$CONFIG.new" <<EOF
# moodsense-edge configuration, written by scripts/install.sh; never overwritten by it.
# Every key with its default: /opt/moodsense-edge/docs/edge.example.yaml
# After editing: /opt/moodsense-edge/.venv/bin/moodsense config check /etc/moodsense/edge.yaml
# Secrets are not written here: /etc/moodsense/credentials/{mqtt_password,command_key}.
site_id: default-site
device_id: $device

# mqtt:
#   host: broker.store.lan    # until a broker is set, events stay in the outbox
#   port: 8883
#   username: $device

models:
  dir: /var/lib/moodsense-models/current   # switched by \`moodsense models install|rollback\`
EOF
    chmod 0644 "$CONFIG.new"
    mv "$CONFIG.new" "$CONFIG"
    say "wrote default $CONFIG (site_id default-site, device_id $device): edit it"
}

write_credentials() {
    # 0600 root: only systemd reads them (LoadCredential=) and hands the service a copy.
    local key="$CREDENTIALS/command_key" password="$CREDENTIALS/mqtt_password"
    if [[ ! -e "$key" ]]; then
        (umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$key")
        say "generated $key (random 256-bit key, hex): give the backend the same key"
    fi
    if [[ -n "$password_file" ]]; then
        (umask 077; cp "$password_file" "$password.new")
        mv "$password.new" "$password"
        say "installed $password from $password_file"
    elif [[ ! -e "$password" ]]; then
        # LoadCredential= fails the unit when the file is missing, so it must exist.
        (umask 077; : > "$password")
        say "created $password EMPTY (no broker password): write one into it if the broker needs it"
    fi
    chmod 0600 "$key" "$password"
    chmod 0700 "$CREDENTIALS"
}

release_name() {
    local name="$release"
    if [[ -z "$name" ]] && in_git; then
        name="$(git -c safe.directory="$SOURCE" -C "$SOURCE" describe --tags --always --dirty)"
    fi
    [[ -n "$name" ]] || name="v$(sed -n 's/^version = "\(.*\)"/\1/p' "$SOURCE/pyproject.toml")"
    if [[ ! "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]]; then
        echo "install: release name '$name' has characters other than A-Z a-z 0-9 . _ + -" >&2
        exit 2
    fi
    echo "$name"
}

copy_source() {  # copy_source DEST: the files of the checkout, without .git, .venv, caches
    local dest="$1"
    if in_git; then
        git -c safe.directory="$SOURCE" -C "$SOURCE" ls-files -z --cached --others --exclude-standard \
            | tar -C "$SOURCE" --null --no-recursion --ignore-failed-read -T - -cf - 2>/dev/null \
            | tar -C "$dest" -xf -
    else
        tar -C "$SOURCE" --exclude=./.git --exclude=./.venv --exclude='__pycache__' -cf - . \
            | tar -C "$dest" -xf -
    fi
}

build_release() {  # build_release DIR: source tree and venv, not yet switched to
    local dir="$1"
    if [[ -d "$dir" ]]; then  # re-run of the same release: refresh the files, keep the venv
        find "$dir" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
    fi
    install -d -m 0755 "$dir"
    copy_source "$dir"
    if [[ -n "$venv_from" ]]; then
        [[ -L "$dir/.venv" || ! -e "$dir/.venv" ]] || rm -rf "$dir/.venv"
        ln -sfn "$venv_from" "$dir/.venv"
        say "venv: linked $venv_from (not built)"
    else
        staged && say "note: setup.sh installs missing Debian packages (libportaudio2) on this host"
        say "venv: scripts/setup.sh in $dir (minutes on a Pi for a new release)"
        "$dir/scripts/setup.sh"
    fi
}

shipped_models() {  # the sha256 of the model manifest a release ships, or nothing
    [[ -n "$1" && -f "$1/models/manifest.toml" ]] || return 0
    sha256sum < "$1/models/manifest.toml" | cut -d' ' -f1
}

install_models_of() {  # install_models_of NEW_RELEASE SHIPPED_BY_THE_RELEASE_IT_REPLACES
    # A release switches the models only when it ships a different set than the release it
    # replaces, so a set installed on its own with `moodsense models install` survives an
    # upgrade that did not touch the models.
    local new="$1" old_sha="$2"
    if [[ -L "$MODELS/current" && "$(shipped_models "$new")" == "$old_sha" ]]; then
        say "models: the release ships the same set as before; active set kept"
        return
    fi
    "$new/.venv/bin/moodsense" models install "$new/models" --models-dir "$MODELS"
}

prune_releases() {  # only the current and the previous release are kept (each has a venv)
    local keep_current keep_previous dir
    keep_current="$(release_of "$CURRENT_LINK")"
    keep_previous="$(release_of "$PREVIOUS_LINK")"
    for dir in "$RELEASES"/*/; do
        dir="${dir%/}"
        [[ "$dir" == "$keep_current" || "$dir" == "$keep_previous" ]] && continue
        rm -rf "$dir"
        say "removed old release $(basename "$dir")"
    done
}

switch_to() {  # switch_to RELEASE_DIR: make it current, remember the one it replaces
    local new="$1" old
    old="$(release_of "$CURRENT_LINK")"
    if [[ -e "$CURRENT_LINK" && ! -L "$CURRENT_LINK" ]]; then
        echo "install: $CURRENT_LINK is a directory, not a release link; move it away first" >&2
        exit 1
    fi
    point "$CURRENT_LINK" "$SERVICE-releases/$(basename "$new")"
    if [[ -n "$old" && "$old" != "$new" ]]; then
        point "$PREVIOUS_LINK" "$SERVICE-releases/$(basename "$old")"
    fi
    prune_releases
    say "active release: $(basename "$new")${old:+ (previous: $(basename "$old"))}"
}

install_unit() {
    install -m 0644 "$(release_of "$CURRENT_LINK")/systemd/$SERVICE.service" "$UNIT"
    if ! command -v systemd-analyze >/dev/null; then
        say "systemd-analyze not found: unit not verified"
    elif staged; then
        # The unit names absolute paths; check a copy that points into the staging root.
        local copy
        copy="$(mktemp -d)/$SERVICE.service"
        sed "s|/opt/$SERVICE|$CURRENT_LINK|g" "$UNIT" > "$copy"
        systemd-analyze verify "$copy"
        rm -rf "$(dirname "$copy")"
        say "unit verified (systemd-analyze verify, paths under $root)"
    else
        systemd-analyze verify "$UNIT"
        say "unit verified (systemd-analyze verify)"
    fi
}

config_check() {  # as ExecStartPre= runs it, with the credentials systemd would hand over
    local env=(CREDENTIALS_DIRECTORY="$CREDENTIALS" STATE_DIRECTORY="$STATE")
    staged && env+=(MOODSENSE_MODELS__DIR="$MODELS/current")
    env "${env[@]}" "$CURRENT_LINK/.venv/bin/moodsense" config check "$CONFIG"
}

start_service() {
    local ready="$1"
    if ! systemd_running; then
        if staged; then skipped "systemctl daemon-reload, enable, restart $SERVICE"
        else say "systemd is not PID 1 here: not enabled or started"; fi
        return
    fi
    systemctl daemon-reload
    systemctl enable "$SERVICE" >/dev/null
    if (( ! start )); then
        say "enabled, not started (--no-start)"
    elif (( ready )); then
        systemctl restart "$SERVICE"
        say "enabled and (re)started $SERVICE"
    else
        say "enabled but NOT started: fix the config check above, then: systemctl restart $SERVICE"
    fi
}

run_doctor() {
    local env=(CREDENTIALS_DIRECTORY="$CREDENTIALS" STATE_DIRECTORY="$STATE")
    staged && env+=(MOODSENSE_MODELS__DIR="$MODELS/current")
    say "moodsense doctor:"
    if env "${env[@]}" "$CURRENT_LINK/.venv/bin/moodsense" doctor --config "$CONFIG"; then
        say "doctor: no failures"
    else
        say "doctor reported problems (above); the installation itself is complete"
    fi
}

finish() {  # unit, doctor, start: shared by install and rollback
    install_unit
    local ready=1
    config_check || ready=0
    # Doctor opens the camera and microphone: with the service holding them it would warn.
    if systemd_running && systemctl is-active --quiet "$SERVICE"; then
        systemctl stop "$SERVICE"
    fi
    run_doctor
    own_state
    start_service "$ready"
}

if (( rollback )); then
    target="$(release_of "$PREVIOUS_LINK")"
    if [[ -z "$target" || ! -x "$target/.venv/bin/moodsense" ]]; then
        echo "install: no previous release to roll back to ($PREVIOUS_LINK)" >&2
        exit 1
    fi
    install_models_of "$target" "$(shipped_models "$(release_of "$CURRENT_LINK")")"
    switch_to "$target"
    finish
    exit 0
fi

ensure_user
make_directories
write_default_config
write_credentials
name="$(release_name)"
new_release="$RELEASES/$name"
old_models="$(shipped_models "$(release_of "$CURRENT_LINK")")"  # before a re-run refreshes it
say "installing release $name from $SOURCE${root:+ under $root}"
build_release "$new_release"
# Models before the software switch: a refused model set stops here, the old release runs on.
install_models_of "$new_release" "$old_models"
switch_to "$new_release"
finish
