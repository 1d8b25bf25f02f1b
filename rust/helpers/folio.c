// SPDX-License-Identifier: GPL-2.0

#include <linux/mm.h>
#include <linux/pagemap.h>

__rust_helper struct folio *rust_helper_folio_alloc(gfp_t gfp, unsigned int order)
{
	return folio_alloc(gfp, order);
}

__rust_helper void rust_helper_folio_get(struct folio *folio)
{
	folio_get(folio);
}

__rust_helper void rust_helper_folio_put(struct folio *folio)
{
	folio_put(folio);
}

__rust_helper unsigned long rust_helper_folio_pfn(const struct folio *folio)
{
	return folio_pfn(folio);
}

__rust_helper bool rust_helper_folio_test_ksm(const struct folio *folio)
{
	return folio_test_ksm(folio);
}

__rust_helper bool rust_helper_folio_test_swapcache(const struct folio *folio)
{
	return folio_test_swapcache(folio);
}

__rust_helper bool rust_helper_folio_test_large(const struct folio *folio)
{
	return folio_test_large(folio);
}

__rust_helper bool rust_helper_folio_test_locked(const struct folio *folio)
{
	return folio_test_locked(folio);
}

__rust_helper bool rust_helper_folio_trylock(struct folio *folio)
{
	return folio_trylock(folio);
}
