#!/bin/sh
# Define `keel_wait SERVICE...`: wait until every container of the
# services runs (and is healthy when it has a health check); after
# $keel_timeout seconds print the last log lines of the services that are
# not ready and $keel_wait_msg with them, and fail. Needs keel_compose.
# params: keel_timeout keel_label keel_wait_msg
: "${keel_timeout?}" "${keel_label?}" "${keel_wait_msg?}"
keel_wait() {
  keel_deadline=$(( $(date +%s) + keel_timeout ))
  while :; do
    keel_pending=
    for keel_s in "$@"; do
      keel_n=0
      for keel_id in $(docker ps -aq --filter "$keel_label" --filter "label=com.docker.compose.service=$keel_s"); do
        keel_st=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.oneoff"}} {{.State.Status}}{{if .State.Health}}/{{.State.Health.Status}}{{end}}' "$keel_id" 2>/dev/null) || keel_st='False gone'
        case "$keel_st" in
          True\ *) continue ;;
          *\ running|*\ running/healthy) ;;
          *) keel_pending="$keel_pending $keel_s(${keel_st#* })" ;;
        esac
        keel_n=$((keel_n + 1))
      done
      if [ "$keel_n" -eq 0 ]; then keel_pending="$keel_pending $keel_s(no container)"; fi
    done
    if [ -z "$keel_pending" ]; then return 0; fi
    if [ "$(date +%s)" -ge "$keel_deadline" ]; then
      for keel_s in "$@"; do
        case "$keel_pending " in
          *" $keel_s("*)
            echo "--- last log lines of $keel_s:" >&2
            keel_compose logs --no-color --tail=6 "$keel_s" >&2 2>&1 || true
            for keel_id in $(docker ps -aq --filter "$keel_label" --filter "label=com.docker.compose.service=$keel_s"); do
              docker inspect -f '{{if .State.Health}}{{range .State.Health.Log}}{{.Output}}{{end}}{{end}}' "$keel_id" 2>/dev/null | grep -v '^$' | tail -n 2 | sed 's/^/health check: /' >&2 || true
            done
            ;;
        esac
      done
      echo "$keel_wait_msg$keel_pending" >&2
      return 1
    fi
    sleep 2
  done
}
