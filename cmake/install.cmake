# What `cmake --install` adds next to the targets (installed by their own
# folders): ddlcoord.pc for pkg-config and the CMake package
# (find_package(ddlcoord CONFIG) -> ddlcoord::ddlcoord, ddlcoord::ddlcoord_static).
# Both find the installed tree relative to their own location, so the tree
# can be installed under any --prefix and moved afterwards.
include(CMakePackageConfigHelpers)

set(DC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ddlcoord)
set(DC_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# pkg-config: prefix is found from the .pc file's own directory.
file(RELATIVE_PATH DC_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" DC_PC_TO_PREFIX "${DC_PC_TO_PREFIX}")
file(RELATIVE_PATH DC_PC_LIBDIR ${CMAKE_INSTALL_PREFIX} ${CMAKE_INSTALL_FULL_LIBDIR})
file(RELATIVE_PATH DC_PC_INCLUDEDIR ${CMAKE_INSTALL_PREFIX} ${CMAKE_INSTALL_FULL_INCLUDEDIR})
configure_file(${CMAKE_SOURCE_DIR}/cmake/ddlcoord.pc.in ${CMAKE_BINARY_DIR}/ddlcoord.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/ddlcoord.pc DESTINATION ${DC_PKGCONFIG_DIR} COMPONENT dev)

# CMake package.
install(EXPORT ddlcoordTargets NAMESPACE ddlcoord:: DESTINATION ${DC_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/ddlcoordConfig.cmake.in
  ${CMAKE_BINARY_DIR}/ddlcoordConfig.cmake INSTALL_DESTINATION ${DC_CMAKE_DIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ddlcoordConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/ddlcoordConfig.cmake
              ${CMAKE_BINARY_DIR}/ddlcoordConfigVersion.cmake
        DESTINATION ${DC_CMAKE_DIR} COMPONENT dev)
