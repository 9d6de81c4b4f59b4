/* Buffer-protocol helpers shared by jetzip's C extensions (codec/_gridkernels.c, codec/_rans.c,
 * entropy/_condkernel.c), so each takes numpy arrays (or bytes) the same way: C-contiguous, its
 * dtype read from the buffer's format and item size, a one-line TypeError naming the argument.
 * Include after <Python.h>. The functions are static inline: a file that uses only some of them
 * gets no unused-function warning.
 */
#ifndef JETZIP_BUFFERS_H
#define JETZIP_BUFFERS_H

#include <string.h>

/* The dtypes the kernels take; OTHER for anything else (bytes among them). */
typedef enum { OTHER, BOOL, INT32, INT64, UINT32, FLOAT32, FLOAT64 } Kind;

/* A held buffer (or none: an optional argument given None), its kind and its number of items. */
typedef struct {
    Py_buffer view;
    int held;
    Kind kind;
    Py_ssize_t n;
} Array;

static inline Kind kind_of(const Py_buffer *view) {
    const char *format = view->format ? view->format : "B";
    /* native order (numpy writes no prefix); '<' is native on the little-endian CPUs we build on */
    if (format[0] == '@' || format[0] == '=' || format[0] == '<') format++;
    if (strlen(format) != 1) return OTHER;
    switch (format[0]) {
        case '?': return view->itemsize == 1 ? BOOL : OTHER;
        case 'i': case 'l': case 'q':
            return view->itemsize == 4 ? INT32 : view->itemsize == 8 ? INT64 : OTHER;
        case 'I': case 'L': case 'Q':
            return view->itemsize == 4 ? UINT32 : OTHER;
        case 'f': return view->itemsize == 4 ? FLOAT32 : OTHER;
        case 'd': return view->itemsize == 8 ? FLOAT64 : OTHER;
        default: return OTHER;
    }
}

/* Fill `array` from `obj` (None allowed where `optional`: nothing held, n = 0); 0, or -1 with a
 * TypeError naming the argument. Bytes objects count as arrays of bytes (kind OTHER,
 * n = length). */
static inline int get_array(PyObject *obj, Array *array, int writable, int optional,
                            const char *name) {
    array->held = 0;
    array->kind = OTHER;
    array->n = 0;
    if (obj == Py_None && optional) return 0;
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &array->view, flags) < 0) {
        PyErr_Format(PyExc_TypeError, "%s: a C-contiguous%s array is needed", name,
                     writable ? " writable" : "");
        return -1;
    }
    array->held = 1;
    array->kind = kind_of(&array->view);
    array->n = array->view.len / (array->view.itemsize ? array->view.itemsize : 1);
    return 0;
}

/* Release the held ones of `count` arrays (all zeroed or filled by get_array). */
static inline void release(Array *arrays, Py_ssize_t count) {
    for (Py_ssize_t i = 0; i < count; i++)
        if (arrays[i].held) PyBuffer_Release(&arrays[i].view);
}

/* Release `count` arrays and raise `type` with `message`: NULL, for a function's return. */
static inline PyObject *fail(Array *arrays, Py_ssize_t count, PyObject *type, const char *message) {
    release(arrays, count);
    PyErr_SetString(type, message);
    return NULL;
}

#endif
