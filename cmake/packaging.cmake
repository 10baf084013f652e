# Debian packages: `cpack -G DEB` in a build tree makes two packages.
#   ddlcoord      the command, libddlcoord.so.N and the driver plugins; its
#                 Depends are computed by dpkg-shlibdeps from what those files
#                 link (libc, cJSON, inih, libcurl, hiredis, ZooKeeper...).
#   ddlcoord-dev  headers, libddlcoord.a, the libddlcoord.so link, ddlcoord.pc
#                 and the CMake package; it depends on ddlcoord of the same
#                 version and on the -dev packages of the pkg-config modules
#                 ddlcoord.pc requires (Requires.private: libcjson inih).
# The packages install under the configured prefix, which for a Debian package
# should be /usr (cmake -DCMAKE_INSTALL_PREFIX=/usr): the compiled-in driver
# directory is then the one the package fills. tests/install/deb-test.sh
# builds, inspects, installs and removes them.
set(DDLCOORD_PACKAGE_CONTACT
    "ddlcoord maintainers <maintainers@users.noreply.r-seed-f4793ddd.example>"
    CACHE STRING "Maintainer field of the Debian packages")
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "cpack: packages will install under ${CMAKE_INSTALL_PREFIX} "
                 "(configure with -DCMAKE_INSTALL_PREFIX=/usr for a Debian package)")
endif()

set(CPACK_PACKAGE_NAME ddlcoord)
set(CPACK_PACKAGE_VENDOR ddlcoord)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${DDLCOORD_PACKAGE_CONTACT})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "shard DDL coordination (pessimistic shard-DDL locks) over etcd, Redis or ZooKeeper")
# Debian's Description: the summary above as its synopsis line, then these.
set(DC_DEB_ABOUT
    "ddlcoord coordinates DDL across the workers that replicate the shards of\n\
one table, with TiDB DM's pessimistic shard-DDL lock protocol: every DDL\n\
runs downstream exactly once. Its state lives in a revisioned key-value\n\
store: etcd, Redis or ZooKeeper (driver plugins), or the embedded mem://.")
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "${DC_DEB_ABOUT}\n\
This package holds the ddlcoord command, the library and the driver plugins.")
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "${DC_DEB_ABOUT}\n\
This package holds the development files: the headers, the static\n\
library, ddlcoord.pc and the CMake package (find_package(ddlcoord)).")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ddlcoord)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION database)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
# A shlibs file for packages that link libddlcoord.so.N, and the ldconfig
# trigger Debian wants from a package that installs a shared library.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME ddlcoord-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libcjson-dev, libinih-dev")

include(CPack)
