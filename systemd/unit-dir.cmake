# Where a systemd unit of the given kind (system or user) is installed.
#
# Installing into /usr (a distribution package), it is the directory
# systemd's pkg-config file names: /lib/systemd/system and
# /usr/lib/systemd/user on Debian 12, /usr/lib/systemd/system on merged-/usr
# distributions. Any other prefix (/usr/local, /opt/lockc, a test prefix)
# gets <prefix>/lib/systemd/<kind>, so an install never writes outside
# CMAKE_INSTALL_PREFIX (plus DESTDIR). The cache variable
# LOCKC_SYSTEMD_<KIND>_UNIT_DIR overrides both.
function(lockc_systemd_unit_dir kind out_var)
  string(TOUPPER "${kind}" kind_upper)
  set(override_var "LOCKC_SYSTEMD_${kind_upper}_UNIT_DIR")
  set(${override_var} "" CACHE PATH
      "Directory for lockc's ${kind} units (empty: systemd's own when the prefix is /usr, else <prefix>/lib/systemd/${kind})")
  if(${override_var})
    set(dir "${${override_var}}")
  elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    pkg_get_variable(systemd_dir systemd "systemd${kind}unitdir")
    if(systemd_dir)
      set(dir "${systemd_dir}")
    else()
      set(dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/${kind}")
    endif()
  else()
    set(dir "lib/systemd/${kind}")
  endif()
  if(IS_ABSOLUTE "${dir}")
    message(STATUS "lockc's ${kind} units go to ${dir}")
  else()
    message(STATUS "lockc's ${kind} units go to ${CMAKE_INSTALL_PREFIX}/${dir}")
  endif()
  set(${out_var} "${dir}" PARENT_SCOPE)
endfunction()
