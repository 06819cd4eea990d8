#!/bin/sh
# Requests on xensim's control socket as the daemon reads them
# (fuzz_ctl_request.c), run by fuzz_run.sh.  Seeds: a create with every
# setting and a first process, an exec, a create with a bad number.
exec sh "$(dirname "$0")/fuzz_run.sh" fuzz_ctl_request 4096 \
	'create\000name=alpha\000uuid=0123abcd-4567-89AB-cdef-0123456789ab\000memory=256\000vcpus=2\000max_fds=100\000max_grant_frames=64\000max_event_channels=1023\000console=/tmp/c.log\000--\000/\0002\000/bin/sh\000-c\000PATH=/bin\000HOME=/\000' \
	'exec\0003\000/tmp\0001\000true\000A=b\000' \
	'create\000name=x\000memory= 5\000'
