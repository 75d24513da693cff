/* img pull: placeholder until the registry client lands. */
#include <errno.h>

#include "common/err.h"
#include "worker/image/img_int.h"

int img_pull(struct img_store *s, const char *ref, const struct img_auth *auth,
	     img_progress_fn progress, void *progress_arg, char **full, char *errmsg, size_t errlen)
{
	err_why(errmsg, errlen, "image pull is not implemented yet");
	return -ENOSYS;
}

int img_remote_descriptor(struct img_store *s, const char *ref, const struct img_auth *auth,
			  char **media_type, char **digest, int64_t *size, char *errmsg,
			  size_t errlen)
{
	err_why(errmsg, errlen, "registry lookups are not implemented yet");
	return -ENOSYS;
}

int img_auth_decode(const char *header, struct img_auth *out, json_t **owner, char *errmsg,
		    size_t errlen)
{
	err_why(errmsg, errlen, "registry auth is not implemented yet");
	return -ENOSYS;
}
