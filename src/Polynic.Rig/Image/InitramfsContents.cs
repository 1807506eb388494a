namespace Polynic.Rig.Image;

/// <summary>
/// The initramfs as a path-indexed set of entries, written to cpio in path order so every
/// directory precedes its contents. A later entry for the same path replaces an earlier
/// one: a real tool wins over a busybox applet link of the same name.
/// </summary>
internal sealed class InitramfsContents
{
    private abstract record Entry;
    private sealed record DirectoryEntry(int Permissions) : Entry;
    private sealed record FileEntry(byte[] Content, int Permissions) : Entry;
    private sealed record SymlinkEntry(string Target) : Entry;
    private sealed record DeviceEntry(int Major, int Minor) : Entry;

    private readonly SortedDictionary<string, Entry> entries = new(StringComparer.Ordinal);

    public int Count => entries.Count;

    public void Directory(string path, int permissions = 0x1ED) => Put(path, new DirectoryEntry(permissions));

    public void File(string path, byte[] content, int permissions = 0x1A4) => Put(path, new FileEntry(content, permissions));

    public void Symlink(string path, string target) => Put(path, new SymlinkEntry(target));

    public void CharDevice(string path, int major, int minor) => Put(path, new DeviceEntry(major, minor));

    public bool Contains(string path) => entries.ContainsKey(Clean(path));

    private void Put(string path, Entry entry)
    {
        var clean = Clean(path);
        for (var parent = Path.GetDirectoryName(clean); parent is not null and not "/"; parent = Path.GetDirectoryName(parent))
            if (!entries.TryGetValue(parent, out var existing) || existing is not DirectoryEntry)
                entries[parent] = new DirectoryEntry(0x1ED);
        entries[clean] = entry;
    }

    private static string Clean(string path) => "/" + path.Trim('/');

    public void WriteTo(Stream output)
    {
        var archive = new CpioArchive(output);
        foreach (var (path, entry) in entries)
        {
            switch (entry)
            {
                case DirectoryEntry d: archive.AddDirectory(path, d.Permissions); break;
                case FileEntry f: archive.AddFile(path, f.Content, f.Permissions); break;
                case SymlinkEntry s: archive.AddSymlink(path, s.Target); break;
                case DeviceEntry c: archive.AddCharDevice(path, c.Major, c.Minor, 0x180); break;
            }
        }
        archive.Finish();
    }
}
