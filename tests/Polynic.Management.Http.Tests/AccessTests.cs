using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using Polynic.Native;

namespace Polynic.Management.Http.Tests;

/// <summary>
/// The API is as powerful as root (it loads code into the server): without the token, from a
/// page of another origin, or under a host name the server is not bound to, a request is refused
/// before it runs, and nothing changes.
/// </summary>
public sealed class AccessTests
{
    private static HttpRequestMessage AddNic(ApiServerFixture server, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/nics") { Content = JsonContent.Create(new { spec = $"e1000:{server.Work}/a.sock,unplugged,name=a" }) };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    [Fact]
    public async Task Requests_without_the_token_or_with_another_are_refused_and_change_nothing()
    {
        await using var server = await ApiServerFixture.StartAsync();
        Assert.Equal(HttpStatusCode.Created, (await server.Client.PostAsJsonAsync("api/v1/modules", new { path = ApiServerFixture.E1000Module })).StatusCode);
        using var anonymous = new HttpClient { BaseAddress = server.Api.Url };

        await ResourceTests.AssertProblemAsync(await anonymous.SendAsync(AddNic(server, null)), HttpStatusCode.Unauthorized, server.Api.TokenFile);
        await ResourceTests.AssertProblemAsync(await anonymous.SendAsync(AddNic(server, server.Api.Token[..^1] + "x")), HttpStatusCode.Unauthorized, "token");
        await ResourceTests.AssertProblemAsync(await anonymous.SendAsync(AddNic(server, server.Api.Token + "x")), HttpStatusCode.Unauthorized, "token");
        await ResourceTests.AssertProblemAsync(await anonymous.GetAsync("api/v1/modules"), HttpStatusCode.Unauthorized, "token");
        await ResourceTests.AssertProblemAsync(await anonymous.GetAsync("openapi/v1.json"), HttpStatusCode.Unauthorized, "token");
        Assert.Empty(await server.NicNamesAsync());
        Assert.False(File.Exists(Path.Combine(server.Work, "a.sock")));
    }

    [Fact]
    public async Task A_page_of_another_origin_and_a_rebound_host_name_are_refused_even_with_the_token()
    {
        await using var server = await ApiServerFixture.StartAsync();
        Assert.Equal(HttpStatusCode.Created, (await server.Client.PostAsJsonAsync("api/v1/modules", new { path = ApiServerFixture.E1000Module })).StatusCode);

        var fromOtherSite = AddNic(server, server.Api.Token);
        fromOtherSite.Headers.Add("Origin", "http://attacker.example");
        await ResourceTests.AssertProblemAsync(await server.Client.SendAsync(fromOtherSite), HttpStatusCode.Forbidden, "attacker.example");

        // DNS rebinding: the attacker's name now resolves to 127.0.0.1, and the browser sends it as Host.
        var rebound = AddNic(server, server.Api.Token);
        rebound.Headers.Host = $"attacker.example:{server.Api.Url.Port}";
        await ResourceTests.AssertProblemAsync(await server.Client.SendAsync(rebound), HttpStatusCode.MisdirectedRequest, "attacker.example");
        Assert.Empty(await server.NicNamesAsync());

        // The server's own origin, and localhost for a loopback address, are the API's own pages.
        var sameOrigin = new HttpRequestMessage(HttpMethod.Get, "api/v1/nics");
        sameOrigin.Headers.Add("Origin", $"http://127.0.0.1:{server.Api.Url.Port}");
        Assert.Equal(HttpStatusCode.OK, (await server.Client.SendAsync(sameOrigin)).StatusCode);
        var byName = new HttpRequestMessage(HttpMethod.Get, "api/v1/nics");
        byName.Headers.Host = $"localhost:{server.Api.Url.Port}";
        Assert.Equal(HttpStatusCode.OK, (await server.Client.SendAsync(byName)).StatusCode);
    }

    [Fact]
    public async Task The_token_file_is_private_a_readable_one_is_refused_and_a_generated_one_goes_at_stop()
    {
        string work = Directory.CreateTempSubdirectory("polynic-token-").FullName;
        try
        {
            // Given a file that does not exist: created 0600 with a new token, kept after stop.
            string file = Path.Combine(work, "token");
            string token;
            await using (var server = await ApiServerFixture.StartAsync(_ => new HttpApiOptions { Listen = "127.0.0.1:0", TokenFile = file }))
            {
                token = server.Api.Token;
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
                Assert.Equal(token, (await File.ReadAllTextAsync(file)).Trim());
            }
            Assert.True(File.Exists(file));
            // Given one that exists: its token is used.
            await using (var server = await ApiServerFixture.StartAsync(_ => new HttpApiOptions { Listen = "127.0.0.1:0", TokenFile = file }))
                Assert.Equal(token, server.Api.Token);
            // Others may read it: refused, the server is not started.
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            var refused = await Assert.ThrowsAsync<UnsafePathException>(() => ApiServerFixture.StartAsync(_ => new HttpApiOptions { Listen = "127.0.0.1:0", TokenFile = file }));
            Assert.Contains("0600", refused.Message);
            // No file named: a new one in the runtime directory, removed at stop.
            string generated;
            await using (var server = await ApiServerFixture.StartAsync(_ => new HttpApiOptions { Listen = "127.0.0.1:0" }))
            {
                generated = server.Api.TokenFile;
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(generated));
            }
            Assert.False(File.Exists(generated));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task Another_machines_address_needs_tls_or_an_explicit_opt_out_and_bad_addresses_say_what_to_give()
    {
        var open = await Assert.ThrowsAsync<ArgumentException>(() => ApiServerFixture.StartAsync(w => new HttpApiOptions { Listen = "0.0.0.0:0", TokenFile = Path.Combine(w, "t") }));
        Assert.Contains("--http-insecure", open.Message);
        foreach (var bad in new[] { "", "8080", "example.org:80", "127.0.0.1:99999", "unix:relative.sock" })
            Assert.Throws<FormatException>(() => HttpListenAddress.Parse(bad));
    }

    [Fact]
    public async Task Over_a_unix_socket_the_api_answers_only_its_owner_and_still_needs_the_token()
    {
        string path = "";
        await using var server = await ApiServerFixture.StartAsync(w => new HttpApiOptions { Listen = "unix:" + (path = Path.Combine(w, "api.sock")), TokenFile = Path.Combine(w, "t") });
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        using var client = new HttpClient(handler) { BaseAddress = server.Api.Url };
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("api/v1/nics")).StatusCode);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.Api.Token);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/v1/nics")).StatusCode);
    }
}
