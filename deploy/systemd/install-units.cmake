# Run by `cmake --install` (see deploy/CMakeLists.txt): installs the units
# with ExecStart pointing at the bindir of the prefix installed to, which
# `cmake --install BUILD --prefix P` decides only now, not at configure
# time. The units are written for a /usr install; every /usr/bin/NAME of
# their own binaries (commented drop-in examples included) becomes
# BINDIR/NAME. file(INSTALL) adds DESTDIR and records the install manifest.
#
# In: MDEVMIG_UNITS (source unit files), MDEVMIG_BINDIR (CMAKE_INSTALL_BINDIR),
# MDEVMIG_UNITDIR (relative to the prefix, or absolute), MDEVMIG_STAGE (a
# directory of the build tree).
set(bindir "${MDEVMIG_BINDIR}")
if(NOT IS_ABSOLUTE "${bindir}")
  set(bindir "${CMAKE_INSTALL_PREFIX}/${bindir}")
endif()
set(unitdir "${MDEVMIG_UNITDIR}")
if(NOT IS_ABSOLUTE "${unitdir}")
  set(unitdir "${CMAKE_INSTALL_PREFIX}/${unitdir}")
endif()
foreach(src IN LISTS MDEVMIG_UNITS)
  get_filename_component(unit "${src}" NAME)
  string(REGEX REPLACE "\\.service$" "" name "${unit}")
  file(READ "${src}" text)
  string(REPLACE "/usr/bin/${name}" "${bindir}/${name}" text "${text}")
  file(WRITE "${MDEVMIG_STAGE}/${unit}" "${text}")
  file(INSTALL DESTINATION "${unitdir}" TYPE FILE FILES "${MDEVMIG_STAGE}/${unit}")
endforeach()
