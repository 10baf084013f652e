# Helpers shared by the driver folders and the tests.

# dc_add_driver(<scheme> SOURCES <files…> LIBS <targets…>)
# Builds MODULE ddlcoord-<scheme>.so into the build tree's driver directory,
# exporting only the entry symbol, and installs it into the driver directory.
function(dc_add_driver scheme)
  cmake_parse_arguments(D "" "" "SOURCES;LIBS" ${ARGN})
  set(target ddlcoord-${scheme})
  add_library(${target} MODULE ${D_SOURCES})
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME ddlcoord-${scheme}
    LIBRARY_OUTPUT_DIRECTORY ${DDLCOORD_BUILD_DRIVER_DIR}
    C_VISIBILITY_PRESET hidden)
  target_link_libraries(${target} PRIVATE dc_util ${D_LIBS})
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/core/include
                                               ${CMAKE_SOURCE_DIR}/core/util)
  # A plugin must not leave undefined symbols to be found at load time. (Not
  # with sanitizers: their runtime comes from the executable, by design.)
  if(NOT DDLCOORD_SANITIZE)
    target_link_options(${target} PRIVATE -Wl,--no-undefined)
  endif()
  install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/ddlcoord
          COMPONENT runtime)
endfunction()

# dc_add_store_tests(<name> URI <uri> [LABEL <l>…] [SUITES <suite>…])
# dc_add_store_tests(<name> FIXTURE <fixture> STATEDIR <dir> [SUFFIX <s>] [LABEL <l>…]
#                    [SUITES <suite>…])
# Records a store on which every store-neutral suite (conformance, protocol)
# must run, or only the SUITES named (a cluster runs the conformance suite
# alone, to keep CI short). tests/CMakeLists.txt turns each record into tests
# once the suites exist. With FIXTURE the URI is read at run time from
# <dir>/uri, written by the fixture's setup test, and SUFFIX (e.g.
# "?mode=multi") is appended to it. Suites on one server never run at the same
# time (RESOURCE_LOCK), because some of them compact the server's history.
function(dc_add_store_tests name)
  cmake_parse_arguments(S "" "URI;FIXTURE;STATEDIR;SUFFIX" "LABEL;SUITES" ${ARGN})
  # The record is "|"-separated; lists inside it are ","-separated.
  string(REPLACE ";" "," labels "${S_LABEL}")
  string(REPLACE ";" "," suites "${S_SUITES}")
  set_property(GLOBAL APPEND PROPERTY DC_STORES
               "${name}|${S_URI}|${S_FIXTURE}|${S_STATEDIR}|${labels}|${S_SUFFIX}|${suites}")
endfunction()

# dc_register_store_tests(<suite>…): one test <suite>.<store> per recorded store.
function(dc_register_store_tests)
  get_property(stores GLOBAL PROPERTY DC_STORES)
  foreach(rec ${stores})
    string(REPLACE "|" ";" f "${rec}")
    list(GET f 0 name)
    list(GET f 1 uri)
    list(GET f 2 fixture)
    list(GET f 3 statedir)
    list(GET f 4 label)
    list(GET f 5 suffix)
    list(GET f 6 only)
    string(REPLACE "," ";" label "${label}")
    string(REPLACE "," ";" only "${only}")
    foreach(suite ${ARGN})
      if(only AND NOT suite IN_LIST only)
        continue()
      endif()
      set(t ${suite}.${name})
      if(fixture)
        add_test(NAME ${t} COMMAND ${CMAKE_SOURCE_DIR}/tests/fixtures/with-store.sh ${statedir}
                                   $<TARGET_FILE:test_${suite}>)
        set_tests_properties(${t} PROPERTIES FIXTURES_REQUIRED ${fixture} RESOURCE_LOCK ${fixture})
        if(suffix)
          set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT "DDLCOORD_TEST_STORE_SUFFIX=${suffix}")
        endif()
      else()
        add_test(NAME ${t} COMMAND $<TARGET_FILE:test_${suite}>)
        set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT "DDLCOORD_TEST_STORE=${uri}")
        set_property(TEST ${t} PROPERTY RESOURCE_LOCK store-${name})
      endif()
      set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT
                   "DDLCOORD_DRIVER_PATH=${DDLCOORD_BUILD_DRIVER_DIR}" "CK_DEFAULT_TIMEOUT=120")
      set_property(TEST ${t} PROPERTY TIMEOUT 900)
      if(label)
        set_property(TEST ${t} PROPERTY LABELS "${label}")
      endif()
    endforeach()
  endforeach()
endfunction()

# dc_add_server_fixture(<fixture> SCRIPT <script> STATEDIR <dir>)
# <script> start <dir> starts a throwaway server (free loopback port, temp
# dir), writes <dir>/uri and <dir>/pid and fails if the server is not ready;
# <script> stop <dir> stops it by PID.
function(dc_add_server_fixture fixture)
  cmake_parse_arguments(F "" "SCRIPT;STATEDIR" "" ${ARGN})
  add_test(NAME ${fixture}.start COMMAND ${F_SCRIPT} start ${F_STATEDIR})
  set_tests_properties(${fixture}.start PROPERTIES FIXTURES_SETUP ${fixture} TIMEOUT 120)
  add_test(NAME ${fixture}.stop COMMAND ${F_SCRIPT} stop ${F_STATEDIR})
  set_tests_properties(${fixture}.stop PROPERTIES FIXTURES_CLEANUP ${fixture} TIMEOUT 60)
endfunction()
