#!/usr/bin/env bash
# Checks the Prometheus and Alertmanager files in deploy/: rule syntax (`promtool check rules`),
# the alert unit tests (`promtool test rules`), the example scrape config (`promtool check
# config`), the Alertmanager route example (`amtool check-config`, `amtool config routes test`)
# and the example ctwatch configurations (`ctwatch check-config`).
#
# Installs Debian's `prometheus` (ships /usr/bin/promtool) and `prometheus-alertmanager` (ships
# /usr/bin/amtool) when the tools are missing. Their maintainer scripts would start the
# prometheus and alertmanager services: a policy-rc.d that refuses service starts is put in
# place for the install (and removed afterwards when this script created it), so nothing is
# left listening.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
if [ "${#need[@]}" -gt 0 ]; then
  echo "== installing ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "promtool.sh: ${need[*]} missing and not root: install them first" >&2
    exit 1
  fi
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# Written by ctwatch .ci/promtool.sh: no service starts during the install.\nexit 101\n' \
      >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

echo "== promtool $(promtool --version 2>&1 | head -n1)"
echo "== promtool check rules"
promtool check rules deploy/prometheus/ctwatch.rules.yml
echo "== promtool test rules"
promtool test rules deploy/prometheus/ctwatch.rules.test.yml
echo "== promtool check config"
promtool check config deploy/prometheus/prometheus.yml
echo "== amtool check-config"
amtool check-config deploy/alertmanager/alertmanager.yml
echo "== amtool config routes test"
route_ok() { # expected receiver, then label=value pairs
  local want=$1
  shift
  amtool config routes test --config.file=deploy/alertmanager/alertmanager.yml \
    --verify.receivers="$want" "$@" 2>/dev/null >/dev/null ||
    { echo "alertmanager.yml: $* does not go to $want" >&2; exit 1; }
}
route_ok page severity=page alertname=CtwatchDown
route_ok page severity=critical kind=caa_conflict ca=HiPKI
route_ok ticket severity=ticket alertname=CtwatchLogFallingBehind
route_ok ticket severity=warning kind=lint_violation
route_ok null severity=info kind=lint_violation
echo "ok"

echo "== deploy/examples: ctwatch check-config"
# The root-program example reads a CCADB map: build one from the real CCADB data beside the
# repository and point the example at it.
data="${CTWATCH_DATA_DIR:-$(cd .. && pwd)/shared/data}/ccadb"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo run -q --locked -p ctwatch -- ccadb import \
  "$data"/mozilla_IncludedCACertificateReport_2023/IncludedCACertificateReport.csv \
  "$data"/crtsh_ccadb_data_2026-08/AllCertificatePEMsCSVFormat/*.csv \
  "$data"/crtsh_ccadb_data_2026-08/ski_spkisha256.csv \
  --out "$work/ccadb-map.json" >/dev/null
for example in deploy/examples/*.toml; do
  sed "s|/etc/ctwatch/ccadb-map.json|$work/ccadb-map.json|" "$example" > "$work/$(basename "$example")"
  cargo run -q --locked -p ctwatch -- check-config "$work/$(basename "$example")"
done
