/* A plugin that forgot to export the entry symbol. */
int dc_driver_entry_misspelled(void);
int dc_driver_entry_misspelled(void)
{
    return 0;
}
