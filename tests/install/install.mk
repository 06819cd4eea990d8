# make install into a scratch DESTDIR, and a program built against it.
TESTS += install/install.sh
EXTRA_DIST += install/install.sh install/pc_user.c
