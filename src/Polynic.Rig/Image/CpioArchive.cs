using System.Text;

namespace Polynic.Rig.Image;

/// <summary>
/// Writes a cpio "newc" archive, the format the kernel unpacks as initramfs. Written here
/// rather than by the cpio tool so the host needs nothing, and entries are deterministic
/// (mtime 0, fixed inode order): an unchanged recipe gives identical bytes.
/// </summary>
internal sealed class CpioArchive(Stream output)
{
    private const int Directory = 0x4000, Regular = 0x8000, Symlink = 0xA000, CharDevice = 0x2000;
    private uint nextInode = 1;
    private long written;

    public void AddDirectory(string path, int permissions = 0x1ED) => WriteEntry(path, Directory | permissions, [], 0, 0);

    public void AddFile(string path, byte[] content, int permissions) => WriteEntry(path, Regular | permissions, content, 0, 0);

    public void AddSymlink(string path, string target) => WriteEntry(path, Symlink | 0x1FF, Encoding.UTF8.GetBytes(target), 0, 0);

    public void AddCharDevice(string path, int major, int minor, int permissions) => WriteEntry(path, CharDevice | permissions, [], major, minor);

    /// <summary>Writes the trailer that ends the archive.</summary>
    public void Finish() => WriteEntry("TRAILER!!!", 0, [], 0, 0, inode: 0);

    private void WriteEntry(string path, int mode, byte[] data, int rdevMajor, int rdevMinor, uint? inode = null)
    {
        var name = Encoding.UTF8.GetBytes(path.TrimStart('/') + "\0");
        var header = new StringBuilder("070701");
        foreach (var field in new long[]
                 {
                     inode ?? nextInode++, mode, 0, 0, (mode & 0xF000) == Directory ? 2 : 1, 0, data.Length,
                     0, 0, rdevMajor, rdevMinor, name.Length, 0,
                 })
            header.Append(field.ToString("x8", System.Globalization.CultureInfo.InvariantCulture));
        Write(Encoding.ASCII.GetBytes(header.ToString()));
        Write(name);
        Pad();
        Write(data);
        Pad();
    }

    private void Write(byte[] bytes)
    {
        output.Write(bytes);
        written += bytes.Length;
    }

    private void Pad()
    {
        while (written % 4 != 0) Write([0]);
    }
}
