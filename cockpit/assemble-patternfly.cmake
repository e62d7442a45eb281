# cmake -DPATTERNFLY=<node_modules/@patternfly/patternfly> -DPAGE_DIR=<dir> -P assemble-patternfly.cmake
#
# Writes PAGE_DIR/patternfly.css: PatternFly's base (variables, reset,
# fonts) and the components the page uses, 0.4 MB instead of the whole
# library's 1.4 MB; and the two font families the base names, as woff2.
foreach(var PATTERNFLY PAGE_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "assemble-patternfly.cmake: ${var} is not set")
  endif()
endforeach()

set(parts
    patternfly-base.css
    components/Alert/alert.css
    components/AlertGroup/alert-group.css
    components/Badge/badge.css
    components/Button/button.css
    components/Card/card.css
    components/DescriptionList/description-list.css
    components/EmptyState/empty-state.css
    components/Form/form.css
    components/FormControl/form-control.css
    components/Label/label.css
    components/Page/page.css
    components/Table/table.css
    components/Table/table-grid.css
    components/Title/title.css)

set(css "/* PatternFly 4 (MIT), the parts lockc's page uses; made by assemble-patternfly.cmake. */\n")
foreach(part ${parts})
  if(NOT EXISTS ${PATTERNFLY}/${part})
    message(FATAL_ERROR "PatternFly has no ${part}: package-lock.json names another version?")
  endif()
  file(READ ${PATTERNFLY}/${part} text)
  string(APPEND css "${text}\n")
endforeach()
file(WRITE ${PAGE_DIR}/patternfly.css.tmp "${css}")
file(RENAME ${PAGE_DIR}/patternfly.css.tmp ${PAGE_DIR}/patternfly.css)

foreach(family RedHatText RedHatDisplay)
  file(GLOB fonts ${PATTERNFLY}/assets/fonts/${family}/*.woff2)
  file(COPY ${fonts} DESTINATION ${PAGE_DIR}/assets/fonts/${family})
endforeach()
