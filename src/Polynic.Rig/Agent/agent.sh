#!/bin/sh
# Polynic guest agent: a line protocol on the serial console.
#   host -> guest:  @@POLYNIC-RUN <token> <shell command line>
#   guest -> host:  @@POLYNIC-BEGIN <token>, the output base64-encoded, @@POLYNIC-END <token> <rc>
# Base64 keeps the output exact (trailing newlines, binary) and lets the host tell it
# apart from stray kernel lines, which always contain spaces or brackets.
stty -echo 2>/dev/null
# A trap (not SIG_IGN) keeps the agent alive on ^C while children still get the default action.
trap 'echo' INT
cd /
echo "@@POLYNIC-READY"
while true; do
    IFS= read -r line || { sleep 1; continue; }
    case "$line" in
        "@@POLYNIC-RUN "*) ;;
        *) continue ;;
    esac
    rest=${line#@@POLYNIC-RUN }
    token=${rest%% *}
    command=${rest#* }
    sh -c "$command" </dev/null >/tmp/.polynic-out 2>&1
    rc=$?
    echo "@@POLYNIC-BEGIN $token"
    base64 </tmp/.polynic-out
    echo "@@POLYNIC-END $token $rc"
done
