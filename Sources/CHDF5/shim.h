#include <hdf5.h>

/* HDF5 exposes its property lists, access flags and predefined types as macros that
   expand to casts or to globals initialised by H5open(), which Swift cannot import.
   These functions return their values. */

static inline hid_t katechon_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t katechon_h5s_all(void) { return H5S_ALL; }
static inline hid_t katechon_h5e_default(void) { return H5E_DEFAULT; }
static inline unsigned katechon_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned katechon_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline hid_t katechon_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t katechon_h5t_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline size_t katechon_h5t_variable(void) { return H5T_VARIABLE; }

/* Turns off HDF5's printing of its error stack to stderr; callers report errors
   themselves through the return codes. */
static inline void katechon_h5_silence_errors(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
