# Writes the bytes of INPUT as a C array named SYMBOL (with SYMBOL_size) into OUTPUT.
file(READ ${INPUT} HEX_CONTENT HEX)
string(LENGTH "${HEX_CONTENT}" HEX_LENGTH)
math(EXPR BYTE_COUNT "${HEX_LENGTH} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," C_BYTES "${HEX_CONTENT}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n" C_BYTES "${C_BYTES}")
file(WRITE ${OUTPUT}
     "#include <stddef.h>\n"
     "const unsigned char ${SYMBOL}[] = {\n${C_BYTES}\n};\n"
     "const size_t ${SYMBOL}_size = ${BYTE_COUNT};\n")
