# cmake -DSCDOC=scdoc -DINPUT=NAME.SECTION.scd -DOUTPUT=NAME.SECTION -P scdoc-page.cmake
#
# Builds one manual page: `scdoc < INPUT > OUTPUT`, plus two requests right
# after .TH, where groff's man macros no longer reset them (scdoc's own .nh
# comes before .TH and is undone there; scdoc has no way to write roff):
#   .nh                      no hyphenation,
#   .if \n(.g .cflags 0 -    no line break after a '-' (groff only),
# so that D-Bus names, paths, options and polkit action ids are never split
# across lines, as in systemd's pages. scdoc honours SOURCE_DATE_EPOCH for
# the page's date. The page is written to a temporary file and renamed, so
# a failed run leaves no half-written page behind.

foreach(var SCDOC INPUT OUTPUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "scdoc-page.cmake: -D${var}=... is missing")
  endif()
endforeach()

execute_process(COMMAND ${SCDOC}
                INPUT_FILE ${INPUT}
                OUTPUT_VARIABLE roff
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "scdoc failed on ${INPUT} (${status}); see its message above")
endif()

string(REGEX MATCH "\n\\.TH [^\n]*\n" th "${roff}")
if(th STREQUAL "")
  message(FATAL_ERROR "scdoc-page.cmake: no .TH line in scdoc's output for ${INPUT}")
endif()
string(REPLACE "${th}"
       "${th}.\\\" No hyphenation, no break after '-' (man/scdoc-page.cmake).\n.nh\n.if \\n(.g .cflags 0 -\n"
       roff "${roff}")

file(WRITE ${OUTPUT}.tmp "${roff}")
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
