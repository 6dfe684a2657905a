#!/bin/bash
# Healthy when the bridge's /health answers 200 (broker connected, journal
# writable). Plain bash, so the image needs no curl.
exec 3<>"/dev/tcp/127.0.0.1/${KB_HTTP_PORT:-3002}" || exit 1
printf 'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS=' ' read -r -t 4 _ status _ <&3 || exit 1
[[ $status == 200 ]]
