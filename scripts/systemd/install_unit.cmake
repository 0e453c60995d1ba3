# Run by `cmake --install` (install(SCRIPT) in CMakeLists.txt): writes
# socstream.service with the paths of the prefix being installed to. The prefix
# is known only now (`--prefix P` overrides the configured one), so a unit
# written at configure time would name a binary that may not be there. The
# source unit names /usr paths; for --prefix /usr it is copied unchanged.
# In: SOCSTREAM_UNIT_IN, SOCSTREAM_UNIT_DIR, SOCSTREAM_BINDIR, SOCSTREAM_DATADIR, SOCSTREAM_DOCDIR
# (the last four relative to the prefix, as GNUInstallDirs gives them).
file(READ "${SOCSTREAM_UNIT_IN}" unit)
foreach(pair "/usr/bin/socstream;${SOCSTREAM_BINDIR}/socstream" "/usr/share/socstream/;${SOCSTREAM_DATADIR}/socstream/"
             "/usr/share/doc/socstream/;${SOCSTREAM_DOCDIR}/")
  list(GET pair 0 from)
  list(GET pair 1 to)
  string(REPLACE "${from}" "${CMAKE_INSTALL_PREFIX}/${to}" unit "${unit}")
endforeach()
set(dest "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/${SOCSTREAM_UNIT_DIR}/socstream.service")
message(STATUS "Installing: ${dest}")
file(WRITE "${dest}" "${unit}")
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${dest}")
