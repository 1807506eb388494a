using System.Text;

namespace Polynic.Native.Tests;

/// <summary>
/// The rule every directory Polynic writes into follows (captures, the rig's work directories,
/// the module cache), with another local user (uid 65534) as the adversary.
/// </summary>
public sealed class PrivateDirectoryTests : IDisposable
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Everyone = (UnixFileMode)0x1FF;
    private readonly Scratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void A_missing_directory_is_created_0700_with_its_missing_parents()
    {
        string path = _scratch["a/b/captures"];

        using var directory = PrivateDirectory.Open(path + "/");

        Assert.Equal(path, directory.Path);
        Assert.Equal(Private, LocalUser.Mode(path));
        Assert.False(directory.IsShared);
    }

    [Fact]
    public void A_directory_another_user_owns_is_refused_naming_the_owner()
    {
        string path = _scratch["planted"];
        Directory.CreateDirectory(path, Private);
        LocalUser.Own(path);

        var refused = Assert.Throws<UnsafePathException>(() => PrivateDirectory.Open(path));

        Assert.Equal(path, refused.Path);
        Assert.Contains($"is owned by uid {LocalUser.Nobody}, not by uid 0", refused.Message);
    }

    [Fact]
    public void A_directory_others_may_write_is_refused_unless_it_is_sticky()
    {
        string open = _scratch["open"];
        Directory.CreateDirectory(open);
        File.SetUnixFileMode(open, Everyone);
        string sticky = _scratch["sticky"];
        Directory.CreateDirectory(sticky);
        File.SetUnixFileMode(sticky, Everyone | UnixFileMode.StickyBit);

        var refused = Assert.Throws<UnsafePathException>(() => PrivateDirectory.Open(open));
        using var shared = PrivateDirectory.Open(sticky);

        Assert.Contains("is writable by group or others (mode 0777) and not sticky", refused.Message);
        Assert.True(shared.IsShared);
        Assert.Equal(Everyone | UnixFileMode.StickyBit, LocalUser.Mode(sticky));
    }

    [Fact]
    public void A_sticky_directory_of_another_user_is_still_refused()
    {
        string path = _scratch["theirs"];
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, Everyone | UnixFileMode.StickyBit);
        LocalUser.Own(path);

        Assert.Contains("is owned by uid", Assert.Throws<UnsafePathException>(() => PrivateDirectory.Open(path)).Message);
    }

    [Fact]
    public void A_symbolic_link_or_a_file_in_the_directory_s_place_is_refused()
    {
        string target = _scratch["target"];
        Directory.CreateDirectory(target, Private);
        string link = _scratch["link"];
        File.CreateSymbolicLink(link, target);
        string file = _scratch["file"];
        File.WriteAllText(file, "");

        Assert.Contains("is a symbolic link", Assert.Throws<UnsafePathException>(() => PrivateDirectory.Open(link)).Message);
        Assert.Contains("is not a directory", Assert.Throws<UnsafePathException>(() => PrivateDirectory.Open(file)).Message);
    }

    [Fact]
    public void Files_are_created_0600_and_a_taken_name_or_a_planted_link_is_refused_never_followed()
    {
        using var directory = PrivateDirectory.Open(_scratch["d"]);
        string victim = _scratch["victim"];
        File.WriteAllText(victim, "precious");
        File.CreateSymbolicLink(directory.Combine("trap"), victim);
        File.WriteAllText(directory.Combine("taken"), "old");

        using (var file = directory.CreateFile("new"))
            RandomAccess.Write(file, "fresh"u8, 0);
        var link = Assert.Throws<UnsafePathException>(() => directory.CreateFile("trap"));
        var taken = Assert.Throws<UnsafePathException>(() => directory.CreateFile("taken"));
        var linkReplaced = Assert.Throws<UnsafePathException>(() => directory.CreateFile("trap", replace: true));

        Assert.Equal(PrivateFile, LocalUser.Mode(directory.Combine("new")));
        Assert.Equal("fresh", File.ReadAllText(directory.Combine("new")));
        Assert.Contains("already exists", link.Message);
        Assert.Contains("already exists", taken.Message);
        Assert.Contains("is a symbolic link", linkReplaced.Message);
        Assert.Equal("precious", File.ReadAllText(victim));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, LocalUser.Mode(victim));
    }

    [Fact]
    public void Replacing_removes_a_file_of_ours_but_not_another_user_s()
    {
        using var directory = PrivateDirectory.Open(_scratch["d"]);
        File.WriteAllText(directory.Combine("ours"), "old run");
        File.WriteAllText(directory.Combine("theirs"), "theirs");
        LocalUser.Own(directory.Combine("theirs"));

        using (var file = directory.CreateFile("ours", replace: true))
            RandomAccess.Write(file, "new run"u8, 0);
        var refused = Assert.Throws<UnsafePathException>(() => directory.CreateFile("theirs", replace: true));

        Assert.Equal("new run", File.ReadAllText(directory.Combine("ours")));
        Assert.Contains($"is owned by uid {LocalUser.Nobody}", refused.Message);
        Assert.Equal("theirs", File.ReadAllText(directory.Combine("theirs")));
    }

    [Fact]
    public void Work_is_done_in_the_checked_directory_even_after_its_path_is_swapped_for_a_link()
    {
        string path = _scratch["checked"];
        using var directory = PrivateDirectory.Open(path);
        string elsewhere = _scratch["elsewhere"];
        Directory.CreateDirectory(elsewhere);
        Directory.Move(path, _scratch["moved"]);
        File.CreateSymbolicLink(path, elsewhere);

        directory.CreateFile("x").Dispose();

        Assert.True(File.Exists(_scratch["moved/x"]));
        Assert.Empty(Directory.GetFileSystemEntries(elsewhere));
    }

    [Fact]
    public void A_new_directory_is_0700_and_a_taken_name_is_never_reused()
    {
        using var parent = PrivateDirectory.Open(_scratch["work"]);
        Directory.CreateDirectory(parent.Combine("guest-1"));
        LocalUser.Own(parent.Combine("guest-1"));

        using var fresh = parent.CreateDirectory("guest-2");
        var refused = Assert.Throws<UnsafePathException>(() => parent.CreateDirectory("guest-1"));

        Assert.Equal(parent.Combine("guest-2"), fresh.Path);
        Assert.Equal(Private, LocalUser.Mode(fresh.Path));
        Assert.Contains("already exists", refused.Message);
        Assert.Throws<ArgumentException>(() => parent.CreateDirectory("../escape"));
        Assert.Throws<ArgumentException>(() => parent.CreateFile(".."));
    }

    [Fact]
    public void Opening_a_file_to_read_trusts_only_a_regular_file_of_ours_nobody_else_may_write()
    {
        using var directory = PrivateDirectory.Open(_scratch["cache"]);
        using (var file = directory.CreateFile("good"))
            RandomAccess.Write(file, "ok"u8, 0);
        File.WriteAllText(directory.Combine("theirs"), "x");
        LocalUser.Own(directory.Combine("theirs"));
        File.WriteAllText(directory.Combine("loose"), "x");
        File.SetUnixFileMode(directory.Combine("loose"), (UnixFileMode)0x1B6);
        File.CreateSymbolicLink(directory.Combine("link"), directory.Combine("good"));

        using (var good = directory.OpenFile("good"))
        {
            var bytes = new byte[2];
            Assert.Equal(2, RandomAccess.Read(good!, bytes, 0));
            Assert.Equal("ok", Encoding.ASCII.GetString(bytes));
        }
        Assert.Null(directory.OpenFile("absent"));
        Assert.Contains("is owned by uid", Assert.Throws<UnsafePathException>(() => directory.OpenFile("theirs")).Message);
        Assert.Contains("is writable by group or others", Assert.Throws<UnsafePathException>(() => directory.OpenFile("loose")).Message);
        Assert.Contains("is a symbolic link", Assert.Throws<UnsafePathException>(() => directory.OpenFile("link")).Message);
    }

    [Fact]
    public void Delete_removes_our_files_and_links_and_leaves_another_user_s_file_alone()
    {
        using var directory = PrivateDirectory.Open(_scratch["d"]);
        string victim = _scratch["victim"];
        File.WriteAllText(victim, "precious");
        File.WriteAllText(directory.Combine("ours"), "");
        File.WriteAllText(directory.Combine("theirs"), "");
        LocalUser.Own(directory.Combine("theirs"));
        File.CreateSymbolicLink(directory.Combine("link"), victim);

        Assert.True(directory.DeleteFile("ours"));
        Assert.False(directory.DeleteFile("theirs"));
        Assert.True(directory.DeleteFile("link"));
        Assert.False(directory.DeleteFile("absent"));

        Assert.Equal(["theirs"], Directory.GetFileSystemEntries(directory.Path).Select(Path.GetFileName));
        Assert.Equal("precious", File.ReadAllText(victim));
    }

    [Fact]
    public void Rename_replaces_the_target_name_and_reports_a_missing_source()
    {
        using var directory = PrivateDirectory.Open(_scratch["d"]);
        File.WriteAllText(directory.Combine("x.pcapng"), "current");
        File.WriteAllText(directory.Combine("x.1.pcapng"), "older");

        Assert.True(directory.Rename("x.pcapng", "x.1.pcapng"));
        Assert.False(directory.Rename("x.pcapng", "x.1.pcapng"));

        Assert.Equal("current", File.ReadAllText(directory.Combine("x.1.pcapng")));
        Assert.False(File.Exists(directory.Combine("x.pcapng")));
    }
}
