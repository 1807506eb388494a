using System.Net;

namespace Polynic.Management.Http.Tests;

/// <summary>
/// The dashboard's files are served without the token (they hold no data), each with its content
/// type, no caching and a Content-Security-Policy that allows this server's own files only; the
/// API and /metrics beside them still need the token, and the Host check still applies to the files.
/// </summary>
public sealed class DashboardAssetTests
{
    [Theory]
    [InlineData("/", "text/html")]
    [InlineData("/index.html", "text/html")]
    [InlineData("/app.js", "text/javascript")]
    [InlineData("/api.js", "text/javascript")]
    [InlineData("/plot.js", "text/javascript")]
    [InlineData("/topology.js", "text/javascript")]
    [InlineData("/panels.js", "text/javascript")]
    [InlineData("/app.css", "text/css")]
    [InlineData("/favicon.svg", "image/svg+xml")]
    public async Task Each_file_is_served_without_the_token_with_its_type_no_store_and_the_policy(string path, string mediaType)
    {
        await using var server = await ApiServerFixture.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Api.Url };

        using var response = await anonymous.GetAsync(path);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {body}");
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.NotEmpty(body);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        string policy = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'self'", policy);
        Assert.DoesNotContain("unsafe-inline", policy);
        Assert.DoesNotContain("unsafe-eval", policy);
        Assert.Equal("nosniff", string.Join(",", response.Headers.GetValues("X-Content-Type-Options")));
    }

    [Fact]
    public async Task The_page_loads_nothing_from_elsewhere_and_has_no_inline_script()
    {
        await using var server = await ApiServerFixture.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Api.Url };
        string page = await anonymous.GetStringAsync("/");
        Assert.DoesNotMatch("(src|href)=\"(?!/)", page);
        Assert.DoesNotContain("//", page.Replace("<!DOCTYPE html>", ""));
        Assert.DoesNotMatch(@"<script(?![^>]*\bsrc=)[^>]*>", page);
        foreach (var script in new[] { "/app.js", "/api.js", "/plot.js", "/topology.js", "/panels.js" })
        {
            string code = await anonymous.GetStringAsync(script);
            // The only absolute URL allowed is the SVG namespace, which is a name, not a fetch.
            Assert.DoesNotMatch(@"https?://(?!www\.w3\.org/2000/svg)", code);
            Assert.DoesNotContain("document.cookie", code);
        }
    }

    [Fact]
    public async Task The_api_beside_the_files_still_needs_the_token_and_the_files_still_need_the_right_host()
    {
        await using var server = await ApiServerFixture.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Api.Url };

        await ResourceTests.AssertProblemAsync(await anonymous.GetAsync("api/v1/nics"), HttpStatusCode.Unauthorized, "token");
        await ResourceTests.AssertProblemAsync(await anonymous.GetAsync("api/v1/modules"), HttpStatusCode.Unauthorized, "token");
        await ResourceTests.AssertProblemAsync(await anonymous.GetAsync("openapi/v1.json"), HttpStatusCode.Unauthorized, "token");
        await ResourceTests.AssertProblemAsync(await anonymous.GetAsync("metrics"), HttpStatusCode.Unauthorized, "token");
        // Only GET and HEAD of the files themselves pass without it: not another method, not a neighbouring path.
        await ResourceTests.AssertProblemAsync(await anonymous.PostAsync("/", new StringContent("")), HttpStatusCode.Unauthorized, "token");
        await ResourceTests.AssertProblemAsync(await anonymous.GetAsync("/app.js/../api/v1/nics"), HttpStatusCode.Unauthorized, "token");
        await ResourceTests.AssertProblemAsync(await anonymous.GetAsync("/nosuch.js"), HttpStatusCode.Unauthorized, "token");

        var rebound = new HttpRequestMessage(HttpMethod.Get, "/");
        rebound.Headers.Host = $"attacker.example:{server.Api.Url.Port}";
        await ResourceTests.AssertProblemAsync(await anonymous.SendAsync(rebound), HttpStatusCode.MisdirectedRequest, "attacker.example");
        var framed = new HttpRequestMessage(HttpMethod.Get, "/app.js");
        framed.Headers.Add("Origin", "http://attacker.example");
        await ResourceTests.AssertProblemAsync(await anonymous.SendAsync(framed), HttpStatusCode.Forbidden, "attacker.example");
    }

    [Fact]
    public async Task The_dashboard_address_carries_the_token_in_its_fragment()
    {
        await using var server = await ApiServerFixture.StartAsync();
        var url = server.Api.DashboardUrl;
        Assert.NotNull(url);
        Assert.Equal(server.Api.Url.GetLeftPart(UriPartial.Path), url.GetLeftPart(UriPartial.Path));
        Assert.Equal("#token=" + server.Api.Token, url.Fragment);
    }
}
