#!/usr/bin/env bash
# Remove moodsense-edge as installed by scripts/install.sh.
#
#   sudo scripts/uninstall.sh            stop and remove the service and the software; keep
#                                        /var/lib/moodsense (outbox with undelivered events,
#                                        consent ledger, calibration), the model sets in
#                                        /var/lib/moodsense-models, /etc/moodsense and the user
#   sudo scripts/uninstall.sh --purge    also delete those, and the moodsense user
#
#   --root DIR   act on a staging root made with `install.sh --root DIR`; userdel and
#                systemctl are skipped and reported
set -euo pipefail

SERVICE=moodsense-edge
SERVICE_USER=moodsense

root="" purge=0
while (( $# )); do
    case "$1" in
        --root) root="$(realpath -m "${2:?--root needs a directory}")"; shift ;;
        --purge) purge=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "uninstall: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [[ "$root" == / ]]; then
    echo "uninstall: --root / is this machine: leave --root out" >&2
    exit 2
fi

say() { echo "uninstall: $*"; }
staged() { [[ -n "$root" ]]; }

if ! staged && [[ $(id -u) -ne 0 ]]; then
    echo "uninstall: run as root (or act on a staging root with --root DIR)" >&2
    exit 1
fi

UNIT="$root/etc/systemd/system/$SERVICE.service"
SOFTWARE=("$root/opt/$SERVICE" "$root/opt/$SERVICE.previous" "$root/opt/$SERVICE-releases")
DATA=("$root/var/lib/moodsense" "$root/var/lib/moodsense-models" "$root/etc/moodsense")

if staged; then
    say "skipped (--root): systemctl disable --now $SERVICE, daemon-reload"
elif [[ -d /run/systemd/system ]]; then
    # Stopping flushes the outbox to disk and publishes `offline` (SIGTERM handling).
    systemctl disable --now "$SERVICE" 2>/dev/null || true
fi

rm -f "$UNIT"
say "removed $UNIT"
if ! staged && [[ -d /run/systemd/system ]]; then systemctl daemon-reload; fi
rm -rf "${SOFTWARE[@]}"
say "removed the software: ${SOFTWARE[*]}"

if (( ! purge )); then
    say "kept (delete with --purge): ${DATA[*]}, user $SERVICE_USER"
    exit 0
fi

rm -rf "${DATA[@]}"
say "purged ${DATA[*]} (undelivered events and the consent ledger are gone)"
if staged; then
    say "skipped (--root): userdel $SERVICE_USER"
elif id "$SERVICE_USER" >/dev/null 2>&1; then
    userdel "$SERVICE_USER"
    say "removed user $SERVICE_USER"
fi
