# The release version and the packages (CPack). Included from the top-level CMakeLists.txt after
# project() and enable_testing(), before the subdirectories, which read:
#   MESH_VERSION       the release version (semver): `mesh --version`, plugin manifests, packages
#   MESH_PACKAGE_ARCH  the machine word in package names (x86_64, aarch64), also what the
#                      updater looks for in a release
# In a build tree:
#   cpack -G TGZ   mesh-<version>-linux-<arch>.tar.gz: the installed tree under one top-level
#                  directory of the same name (relocatable: the daemon finds its plugins
#                  relative to its own binary)
#   cpack -G DEB   mesh_<version>_<debarch>.deb, installed under CMAKE_INSTALL_PREFIX (configure
#                  with -DCMAKE_INSTALL_PREFIX=/usr for a distributable package), dependencies
#                  derived by dpkg-shlibdeps
# See docs/releasing.md.
include_guard(GLOBAL)

# --- version -----------------------------------------------------------------------------
if(MESH_VERSION STREQUAL "")
  set(MESH_VERSION "${PROJECT_VERSION}")
endif()
set(_mesh_semver_id "(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)")
if(NOT MESH_VERSION MATCHES "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-${_mesh_semver_id}(\\.${_mesh_semver_id})*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$")
  message(FATAL_ERROR "MESH_VERSION '${MESH_VERSION}' is not a semantic version: "
    "MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], no leading 'v', no leading zeros (e.g. 1.2.3, 1.3.0-rc.1)")
endif()
string(LENGTH "${MESH_VERSION}" _mesh_version_len)
if(_mesh_version_len GREATER 64)
  message(FATAL_ERROR "MESH_VERSION is longer than 64 characters")
endif()
message(STATUS "mesh version ${MESH_VERSION}")

string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" MESH_PACKAGE_ARCH)
if(MESH_PACKAGE_ARCH STREQUAL "amd64")
  set(MESH_PACKAGE_ARCH x86_64)
elseif(MESH_PACKAGE_ARCH STREQUAL "arm64")
  set(MESH_PACKAGE_ARCH aarch64)
endif()
if(NOT MESH_PACKAGE_ARCH MATCHES "^[a-z0-9_]+$")
  message(FATAL_ERROR "cannot name packages for processor '${CMAKE_SYSTEM_PROCESSOR}'")
endif()

# --- packages ----------------------------------------------------------------------------
set(MESH_PACKAGE_CONTACT "mesh maintainers <mesh@localhost>" CACHE STRING
  "Maintainer field of the .deb")

set(CPACK_PACKAGE_NAME mesh)
set(CPACK_PACKAGE_VENDOR mesh)
set(CPACK_PACKAGE_VERSION "${MESH_VERSION}")
set(CPACK_PACKAGE_CONTACT "${MESH_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Git hosting, CI and issues for a small trusted team, with no server")
set(CPACK_PACKAGE_FILE_NAME "mesh-${MESH_VERSION}-linux-${MESH_PACKAGE_ARCH}")
set(CPACK_GENERATOR TGZ)
set(CPACK_SOURCE_GENERATOR "")
set(CPACK_INCLUDE_TOPLEVEL_DIRECTORY ON)
# Never strip: each plugin's manifest carries the sha256 of its .so as built.
set(CPACK_STRIP_FILES OFF)
set(CPACK_VERBATIM_VARIABLES ON)
# An absolute install() DESTINATION would be written to the packaging machine itself.
set(CPACK_ERROR_ON_ABSOLUTE_INSTALL_DESTINATION ON)

# Debian: semver pre-releases sort before their release with '~' (1.2.0~rc.1 << 1.2.0).
string(REGEX REPLACE "^([0-9]+\\.[0-9]+\\.[0-9]+)-" "\\1~" _mesh_deb_version "${MESH_VERSION}")
set(CPACK_DEBIAN_PACKAGE_VERSION "${_mesh_deb_version}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION vcs)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Run-time programs the daemon spawns (not found by shlibdeps).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "git")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "mesh runs on every machine of a small team and shares git repositories, CI and issues\n between them over signed gossip and TLS, with no central server.")

# Per-generator settings: the .deb installs where it was configured to (so the systemd unit's
# ExecStart is right); the tarball stays relocatable.
set(CPACK_PROJECT_CONFIG_FILE "${CMAKE_BINARY_DIR}/CPackMeshGenerators.cmake")
file(CONFIGURE OUTPUT "${CPACK_PROJECT_CONFIG_FILE}" CONTENT [[
if(CPACK_GENERATOR STREQUAL "DEB")
  set(CPACK_PACKAGING_INSTALL_PREFIX "@CMAKE_INSTALL_PREFIX@")
endif()
]] @ONLY)

include(CPack)

# What a package holds, checked from a package made from this build tree.
if(MESH_TESTS)
  add_test(NAME package_contents
    COMMAND bash "${CMAKE_SOURCE_DIR}/tools/release/check-package.sh"
      "${CMAKE_BINARY_DIR}" "${MESH_VERSION}" "${MESH_PACKAGE_ARCH}" "${CMAKE_INSTALL_PREFIX}"
      "$<TARGET_FILE:updater_package_check>")
  # It installs the build tree (cpack), as examples.build does: never both at once.
  set_tests_properties(package_contents PROPERTIES LABELS "package" TIMEOUT 900
                       RESOURCE_LOCK build_tree_install)
endif()
