# Man pages render without a single groff warning (label "man").
file(GLOB EVD_MAN_PAGES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/man/*.[1-8])
add_test(NAME man/lint COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/man/lint.sh ${EVD_MAN_PAGES})
set_tests_properties(man/lint PROPERTIES LABELS "man" TIMEOUT 60 SKIP_RETURN_CODE 77)
