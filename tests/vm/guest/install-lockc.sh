#!/bin/bash
# Runs in the test VM: installs lockc from a build tree as a user would
# (cmake --install, then what a package's scripts do: users, state
# directory, systemd and the bus told about the new files). lockcd then
# starts on the first call on the bus, or with systemctl start lockcd.
#
#   install-lockc.sh BUILD_DIR
set -euo pipefail
build=$1
cmake --install "$build" >/dev/null
systemd-sysusers >/dev/null
systemd-tmpfiles --create /usr/lib/tmpfiles.d/lockc.conf
systemctl daemon-reload
# dbus-daemon reads new policy and activation files on ReloadConfig.
busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
