#!/bin/sh
# libvchan-cap against Debian's stock libxenvchan on the real hypervisor, both
# ways: framed messages through the stock library come back intact. And a
# stock client that dies while a child of it keeps gntdev (no event comes
# until the child lets go; the client's live byte is cleared at once): our
# server's event loop must report HUP. (It opens @releaseDomain to its
# guests, so the harness runs it alone.)
S=vchan-cap-stock
. "${0%/*}/vchan-cap.inc"
pair stockcli server echo 100 -- stock-client
done_ok "ours=server,stock=client" vc-stockcli-s
done_ok "stock client" vc-stockcli-c
finish_pair stockcli
pair stocksrv stock-server -- client echo 100
done_ok "ours=client,stock=server" vc-stocksrv-c
done_ok "stock server" vc-stocksrv-s
finish_pair stocksrv
pair stockfork server evloop -- stock-client forkdie
ts_wait_marker vc-stockfork-c "VCHAN-READY stock-forkdie" "$WAIT" ||
    bad "stockfork: the stock client never connected"
done_ok "event loop, stock client dead, its child holding" vc-stockfork-s
finish_pair stockfork
ts_run0 conf-xs chmod @releaseDomain n0 || bad "cannot close @releaseDomain again"
if [ "$fails" = 0 ]; then echo "SCENARIO-PASS $S"; else echo "SCENARIO-FAIL $S: $fails check(s) failed"; exit 1; fi
