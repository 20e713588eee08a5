/* celltwin: the XLA FFI handler through which compiled JAX code calls celltwin's host
 * functions (see _host_call.py for why). One handler for all of them: the call's integer
 * attribute "key" names the function, which the Python dispatcher set by
 * celltwin_host_call_init looks up. The buffers reach Python as numpy arrays over XLA's
 * own memory (no copies); the results are written in place. A Python exception becomes an
 * XLA error carrying its message. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <string.h>
#include "xla/ffi/api/c_api.h"

static PyObject *dispatcher = NULL;

/* Called once, with the GIL held (ctypes.PyDLL). */
int celltwin_host_call_init(PyObject *function) {
    import_array1(-1);
    Py_XINCREF(function);
    Py_XSETREF(dispatcher, function);
    return 0;
}

static XLA_FFI_Error *fail(XLA_FFI_CallFrame *frame, const char *message) {
    XLA_FFI_Error_Create_Args args;
    memset(&args, 0, sizeof args);
    args.struct_size = sizeof args;
    args.message = message;
    args.errc = XLA_FFI_Error_Code_INTERNAL;
    return frame->api->XLA_FFI_Error_Create(&args);
}

static PyObject *wrap(XLA_FFI_Buffer *b) {
    int type;
    switch (b->dtype) {
        case XLA_FFI_DataType_F64: type = NPY_FLOAT64; break;
        case XLA_FFI_DataType_S32: type = NPY_INT32; break;
        case XLA_FFI_DataType_S64: type = NPY_INT64; break;
        default: PyErr_SetString(PyExc_TypeError, "celltwin_host_call: unsupported dtype"); return NULL;
    }
    return PyArray_New(&PyArray_Type, (int)b->rank, (npy_intp *)b->dims, type, NULL, b->data, 0, NPY_ARRAY_CARRAY, NULL);
}

XLA_FFI_Error *celltwin_host_call(XLA_FFI_CallFrame *frame) {
    /* XLA asks for the FFI version the handler was built against before the first call. */
    XLA_FFI_Extension_Base *ext = frame->extension_start;
    if (ext != NULL && ext->type == XLA_FFI_Extension_Metadata) {
        XLA_FFI_Metadata *m = ((XLA_FFI_Metadata_Extension *)ext)->metadata;
        m->api_version.major_version = XLA_FFI_API_MAJOR;
        m->api_version.minor_version = XLA_FFI_API_MINOR;
        m->traits = 0;
        return NULL;
    }
    if (frame->stage != XLA_FFI_ExecutionStage_EXECUTE) return NULL;
    if (frame->attrs.size != 1 || frame->attrs.types[0] != XLA_FFI_AttrType_SCALAR)
        return fail(frame, "celltwin_host_call: expects one scalar attribute, the key");
    XLA_FFI_Scalar *scalar = (XLA_FFI_Scalar *)frame->attrs.attrs[0];
    if (scalar->dtype != XLA_FFI_DataType_S64) return fail(frame, "celltwin_host_call: the key is not int64");
    if (dispatcher == NULL) return fail(frame, "celltwin_host_call: not initialised");
    int64_t n_in = frame->args.size, n_out = frame->rets.size;
    PyGILState_STATE gil = PyGILState_Ensure();
    XLA_FFI_Error *error = NULL;
    PyObject *args = PyTuple_New(1 + n_in + n_out);
    PyObject *key = args != NULL ? PyLong_FromLongLong(*(int64_t *)scalar->value) : NULL;
    if (key == NULL) Py_CLEAR(args);
    else PyTuple_SET_ITEM(args, 0, key);
    for (int64_t k = 0; args != NULL && k < n_in + n_out; k++) {
        XLA_FFI_Buffer *b = (XLA_FFI_Buffer *)(k < n_in ? frame->args.args[k] : frame->rets.rets[k - n_in]);
        PyObject *a = wrap(b);
        if (a == NULL) { Py_CLEAR(args); break; }
        PyTuple_SET_ITEM(args, 1 + k, a);
    }
    PyObject *result = args != NULL ? PyObject_CallObject(dispatcher, args) : NULL;
    Py_XDECREF(args);
    if (result == NULL) {
        PyObject *type, *value, *trace;
        PyErr_Fetch(&type, &value, &trace);
        PyObject *text = value != NULL ? PyObject_Str(value) : NULL;
        const char *message = text != NULL ? PyUnicode_AsUTF8(text) : NULL;
        error = fail(frame, message != NULL ? message : "celltwin_host_call: Python error");
        Py_XDECREF(text); Py_XDECREF(type); Py_XDECREF(value); Py_XDECREF(trace);
        PyErr_Clear();
    }
    Py_XDECREF(result);
    PyGILState_Release(gil);
    return error;
}
