# make install into a scratch DESTDIR, and a program built against it.
TESTS += install/install.sh
EXTRA_DIST += install/install.sh install/pc_user.c
# setup.sh configures a reused build folder again when CONFIGURE_FLAGS differ.
TESTS += install/setup-flags.sh
EXTRA_DIST += install/setup-flags.sh
